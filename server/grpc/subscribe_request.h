// The Subscribe request as the wire carries it, turned into what the bus
// takes: the raw request bytes into a v1::SubscribeRequest, and that into
// SubscribeOptions. Stateless: thread-safe.
#ifndef EVENTBUS_SERVER_GRPC_SUBSCRIBE_REQUEST_H_
#define EVENTBUS_SERVER_GRPC_SUBSCRIBE_REQUEST_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/bus/bus.h"

namespace eventbus {

// Parses the raw request of the Subscribe method. Error: InvalidArgument
// when the bytes are not a SubscribeRequest.
absl::StatusOr<v1::SubscribeRequest> ParseSubscribeRequest(
    const grpc::ByteBuffer& buffer);

// The options a SubscribeRequest asks for. Errors: InvalidArgument for a
// filter naming an unknown event type. (from_sequence is checked by
// Bus::Subscribe, which knows the sequence range.)
absl::StatusOr<SubscribeOptions> SubscribeOptionsFromRequest(
    const v1::SubscribeRequest& request);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_SUBSCRIBE_REQUEST_H_

// Messages of the raw (ByteBuffer) methods: every EventBusService method
// takes its request as bytes and parses it itself, so that a request that
// does not parse gets INVALID_ARGUMENT saying so (a typed callback method
// would answer UNIMPLEMENTED with no message, and a typed stream's failed
// read looks like the client closing its side). Stateless: thread-safe.
#ifndef EVENTBUS_SERVER_GRPC_RAW_MESSAGE_H_
#define EVENTBUS_SERVER_GRPC_RAW_MESSAGE_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <string_view>

#include "absl/status/status.h"

namespace eventbus {

// Parses `buffer` into `message`. Error: InvalidArgument "`what` is not a
// valid eventbus.v1.TYPE" when the bytes are not its encoding (a string
// field that is not UTF-8 included).
absl::Status ParseRawMessage(const grpc::ByteBuffer& buffer,
                             std::string_view what,
                             google::protobuf::Message* message);

// The encoding of `message`, as a raw method's response.
grpc::ByteBuffer SerializeRawMessage(const google::protobuf::Message& message);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_RAW_MESSAGE_H_

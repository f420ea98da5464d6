// Status conversion at the gRPC edge. absl::StatusCode and
// grpc::StatusCode are the same numbers, so nothing is lost.
#ifndef EVENTBUS_SERVER_GRPC_GRPC_STATUS_H_
#define EVENTBUS_SERVER_GRPC_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"

namespace eventbus {

// The RPC status of `status`: same code, same message.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_GRPC_STATUS_H_

// Conversions between grpc::Status and absl::Status; the codes are the same
// numbers, so nothing is lost either way.
#ifndef EVENTBUS_CLIENT_STATUS_H_
#define EVENTBUS_CLIENT_STATUS_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"

namespace eventbus::client {

inline absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace eventbus::client

#endif  // EVENTBUS_CLIENT_STATUS_H_

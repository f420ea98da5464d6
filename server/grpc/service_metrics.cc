#include "server/grpc/service_metrics.h"

namespace eventbus {

const char* ServiceMetrics::EndReasonName(EndReason reason) {
  switch (reason) {
    case EndReason::kDrained:
      return "drained";
    case EndReason::kCancelled:
      return "cancelled";
    case EndReason::kOverflow:
      return "overflow";
    case EndReason::kError:
      return "error";
  }
  return "error";
}

ServiceMetrics::EndReason ServiceMetrics::EndReasonOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return EndReason::kDrained;
    case grpc::StatusCode::CANCELLED:
      return EndReason::kCancelled;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return EndReason::kOverflow;
    default:
      return EndReason::kError;
  }
}

}  // namespace eventbus

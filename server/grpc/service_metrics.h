// ServiceMetrics: what the gRPC layer counts for /metrics, besides what the
// bus counts itself (BusStats): refused publishes and subscribes by status
// code, Subscribe streams ended by reason, and the time from publish to the
// write that carries an event to a subscriber.
//
// One per EventBusService, shared by its calls. Every counter is a relaxed
// atomic and the histogram is sharded per thread (base/histogram.h): no
// lock on any path. Thread-safe.
#ifndef EVENTBUS_SERVER_GRPC_SERVICE_METRICS_H_
#define EVENTBUS_SERVER_GRPC_SERVICE_METRICS_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "base/histogram.h"

namespace eventbus {

class ServiceMetrics {
 public:
  // gRPC's codes are 0..16.
  static constexpr int kCodes = 17;
  // Why a Subscribe stream that had subscribed ended.
  enum class EndReason {
    kDrained,    // OK: the bus closed and the subscriber read everything
    kCancelled,  // the client went away, or the server stopped
    kOverflow,   // its overflow policy ended it (RESOURCE_EXHAUSTED)
    kError,      // any other status
  };
  static constexpr int kEndReasons = 4;
  // "drained", "cancelled", "overflow", "error": the label values.
  static const char* EndReasonName(EndReason reason);
  static EndReason EndReasonOf(grpc::StatusCode code);

  void PublishRejected(absl::StatusCode code) { Add(&publish_rejected_, code); }
  void PublishRejected(grpc::StatusCode code) {
    PublishRejected(static_cast<absl::StatusCode>(code));
  }
  void SubscribeRejected(absl::StatusCode code) {
    Add(&subscribe_rejected_, code);
  }
  void SubscriptionEnded(grpc::StatusCode code) {
    ended_[static_cast<int>(EndReasonOf(code))].fetch_add(
        1, std::memory_order_relaxed);
  }
  Histogram& delivery_latency() { return delivery_latency_; }

  uint64_t publish_rejected(int code) const {
    return publish_rejected_[code].load(std::memory_order_relaxed);
  }
  uint64_t subscribe_rejected(int code) const {
    return subscribe_rejected_[code].load(std::memory_order_relaxed);
  }
  uint64_t subscriptions_ended(EndReason reason) const {
    return ended_[static_cast<int>(reason)].load(std::memory_order_relaxed);
  }
  const Histogram& delivery_latency() const { return delivery_latency_; }

 private:
  using Counters = std::array<std::atomic<uint64_t>, kCodes>;
  static void Add(Counters* counters, absl::StatusCode code) {
    const int index = static_cast<int>(code);
    (*counters)[index >= 0 && index < kCodes ? index : 2].fetch_add(
        1, std::memory_order_relaxed);  // 2: UNKNOWN
  }

  Counters publish_rejected_{};
  Counters subscribe_rejected_{};
  std::array<std::atomic<uint64_t>, kEndReasons> ended_{};
  Histogram delivery_latency_{Histogram::LatencyBounds()};
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_SERVICE_METRICS_H_

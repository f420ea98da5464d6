// The benchmark's event and what a subscriber reads from it.
//
// Every workload publishes the same audit event (WORKLOADS.md: an AuditEvent
// whose serialized Event is 240-272 bytes), stamped with the publisher's
// CLOCK_MONOTONIC time in nanoseconds in the attribute kStampAttribute, so a
// subscriber can compute end-to-end latency. The id is left empty: the bus
// assigns a UUID, as it does for OpsML's events.
//
// ScanSubscribeResponse reads SubscribeResponse wire bytes in place, the way
// a lean client would: sequence and stamp of each event, and the Lagged
// notice, without building messages. Thread-safe: no shared state.
#ifndef EVENTBUS_BENCH_BENCH_EVENT_H_
#define EVENTBUS_BENCH_BENCH_EVENT_H_

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "eventbus/v1/eventbus.pb.h"

namespace eventbus::bench {

// Attribute carrying the publisher's CLOCK_MONOTONIC ns, in decimal.
inline constexpr char kStampAttribute[] = "mono_ns";

inline int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The audit event every workload publishes, stamped with 0.
v1::Event BenchEvent();

// Sets the stamp of an event made by BenchEvent(). The stamp always has 19
// digits, so the encoded size does not depend on it.
void StampEvent(int64_t mono_ns, v1::Event* event);

// Serialized size of BenchEvent() once the bus assigned `sequence`, a
// publish time of now and a UUID id.
size_t BenchEventWireSize(uint64_t sequence);

// What a subscriber learned from one response.
struct ScannedEvent {
  uint64_t sequence = 0;
  int64_t stamp_ns = 0;  // 0 when the event carries no stamp
};
struct ScannedLag {
  uint64_t missed = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
};

// Receives the parts of a SubscribeResponse in wire order.
class ResponseVisitor {
 public:
  virtual ~ResponseVisitor() = default;
  virtual void OnLagged(const ScannedLag& lag) = 0;
  virtual void OnEvent(const ScannedEvent& event) = 0;
};

// Scans one SubscribeResponse. Returns false on malformed bytes (after
// visiting what came before them).
bool ScanSubscribeResponse(const uint8_t* data, size_t size,
                           ResponseVisitor* visitor);

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_BENCH_EVENT_H_

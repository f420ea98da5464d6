// W0 of WORKLOADS.md: the in-process core (eventbus::Bus) without gRPC.
//
// One sender thread publishes `events` freshly built audit events as fast as
// Bus::Publish takes them; `subscribers` receivers, each its own
// Subscription, run on `workers` threads as a tiny runtime would run tasks:
// a receiver reads a batch (TryRead), goes to the back of its worker's queue,
// and when it finds nothing arms a wake-up (Arm) that puts it back in the
// queue on the next publish. The sender closes the bus at the end; the run
// ends when every receiver saw the end of the stream. A warm-up run on a
// separate bus comes first, as in the tokio anchor.
#ifndef EVENTBUS_BENCH_CORE_WORKLOAD_H_
#define EVENTBUS_BENCH_CORE_WORKLOAD_H_

#include <cstdint>
#include <string>

namespace eventbus::bench {

struct CoreWorkloadOptions {
  int subscribers = 1;
  uint64_t events = 1'000'000;
  uint64_t capacity = 1024;
  // Receiver threads. With the sender's thread, 1 makes the 2 threads of
  // WORKLOADS.md: the tokio anchor's sender never yields, so it holds one of
  // its runtime's 2 workers and the receivers share the other.
  int workers = 1;
  uint64_t warmup_events = 20'000;
};

// Runs W0 and returns its JSON line (WORKLOADS.md keys plus the tokio
// anchor's: lagged, seconds, delivered, lag_errors, cpu_s, consistent).
std::string RunCoreWorkload(const CoreWorkloadOptions& options);

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_CORE_WORKLOAD_H_

// Histogram: counts of observed durations in fixed buckets, for metrics
// (Prometheus histograms: cumulative buckets, a count and a sum).
//
// Observe() takes no lock: it adds to relaxed atomics in one of kShards
// cache-line-sized shards, picked per thread, so that threads observing at
// once (the subscribe queues) do not fight over one line. Snapshot() adds
// the shards up; it may see an observation's bucket and not yet its sum,
// which a scrape tolerates. Thread-safe.
#ifndef EVENTBUS_BASE_HISTOGRAM_H_
#define EVENTBUS_BASE_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace eventbus {

class Histogram {
 public:
  static constexpr size_t kShards = 4;
  static constexpr size_t kMaxBuckets = 24;

  // What Snapshot() returns: bucket i counts observations <= bounds[i]
  // (cumulative, as Prometheus wants), `count` counts all of them.
  struct Counts {
    std::vector<double> bounds;  // seconds, ascending
    std::vector<uint64_t> cumulative;
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  // `bounds` in seconds, ascending, at most kMaxBuckets (more are ignored).
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // 100us..10s in steps of about 2.5x: publish-to-write and fsync times.
  static std::vector<double> LatencyBounds();

  void Observe(absl::Duration duration);
  Counts Snapshot() const;

 private:
  struct alignas(64) Shard {
    // buckets[i] counts observations in (bounds[i-1], bounds[i]];
    // buckets[bounds.size()] those above the last bound.
    std::array<std::atomic<uint64_t>, kMaxBuckets + 1> buckets{};
    std::atomic<uint64_t> sum_nanos{0};
  };

  const std::vector<double> bounds_;
  std::vector<int64_t> bound_nanos_;
  std::array<Shard, kShards> shards_;
};

}  // namespace eventbus

#endif  // EVENTBUS_BASE_HISTOGRAM_H_

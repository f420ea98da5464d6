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

#include <algorithm>
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

  // Observations gathered by one thread and added to the histogram when the
  // Tally goes away: one atomic add per bucket touched and one for the sum,
  // instead of two per observation. For many observations at one moment
  // (every event of a response). Not thread-safe; the histogram must
  // outlive it.
  class Tally {
   public:
    explicit Tally(Histogram* histogram) : histogram_(histogram) {}
    ~Tally();
    Tally(const Tally&) = delete;
    Tally& operator=(const Tally&) = delete;

    void Observe(absl::Duration duration) {
      ObserveNanos(absl::ToInt64Nanoseconds(duration));
    }
    // The same for a duration in nanoseconds (negative: 0), without
    // absl::Duration's conversions: for the hot path.
    void ObserveNanos(int64_t nanos) {
      nanos = std::max<int64_t>(0, nanos);
      // The events of one response were mostly published together: try
      // the last observation's bucket before searching.
      const std::vector<int64_t>& bounds = histogram_->bound_nanos_;
      if ((last_ < bounds.size() && nanos > bounds[last_]) ||
          (last_ > 0 && nanos <= bounds[last_ - 1])) {
        last_ = histogram_->BucketOf(nanos);
      }
      ++buckets_[last_];
      sum_nanos_ += static_cast<uint64_t>(nanos);
    }

   private:
    Histogram* const histogram_;
    std::array<uint64_t, kMaxBuckets + 1> buckets_{};
    uint64_t sum_nanos_ = 0;
    size_t last_ = 0;
  };

 private:
  static int64_t Nanos(absl::Duration duration) {
    return std::max<int64_t>(0, absl::ToInt64Nanoseconds(duration));
  }
  // The bucket of an observation of `nanos`: the first bound >= it, or the
  // last (+Inf) one.
  size_t BucketOf(int64_t nanos) const {
    return static_cast<size_t>(
        std::lower_bound(bound_nanos_.begin(), bound_nanos_.end(), nanos) -
        bound_nanos_.begin());
  }

  struct alignas(64) Shard {
    // buckets[i] counts observations in (bounds[i-1], bounds[i]];
    // buckets[bounds.size()] those above the last bound.
    std::array<std::atomic<uint64_t>, kMaxBuckets + 1> buckets{};
    std::atomic<uint64_t> sum_nanos{0};
  };

  Shard& ThisThreadShard();

  const std::vector<double> bounds_;
  std::vector<int64_t> bound_nanos_;
  std::array<Shard, kShards> shards_;
};

}  // namespace eventbus

#endif  // EVENTBUS_BASE_HISTOGRAM_H_

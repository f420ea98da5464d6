#include "base/histogram.h"

#include <functional>
#include <thread>

namespace eventbus {
Histogram::Shard& Histogram::ThisThreadShard() {
  // A thread's shard, fixed for its life.
  thread_local const size_t shard =
      std::hash<std::thread::id>()(std::this_thread::get_id());
  return shards_[shard % kShards];
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_([&] {
        if (bounds.size() > kMaxBuckets) bounds.resize(kMaxBuckets);
        return std::move(bounds);
      }()) {
  for (double bound : bounds_) {
    bound_nanos_.push_back(static_cast<int64_t>(bound * 1e9));
  }
}

std::vector<double> Histogram::LatencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

void Histogram::Observe(absl::Duration duration) {
  const int64_t nanos = Nanos(duration);
  Shard& shard = ThisThreadShard();
  shard.buckets[BucketOf(nanos)].fetch_add(1, std::memory_order_relaxed);
  shard.sum_nanos.fetch_add(static_cast<uint64_t>(nanos),
                            std::memory_order_relaxed);
}

Histogram::Tally::~Tally() {
  Shard& shard = histogram_->ThisThreadShard();
  bool any = false;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i] == 0) continue;
    shard.buckets[i].fetch_add(buckets_[i], std::memory_order_relaxed);
    any = true;
  }
  if (any) shard.sum_nanos.fetch_add(sum_nanos_, std::memory_order_relaxed);
}

Histogram::Counts Histogram::Snapshot() const {
  Counts counts;
  counts.bounds = bounds_;
  std::vector<uint64_t> buckets(bounds_.size() + 1, 0);
  uint64_t sum_nanos = 0;
  for (const Shard& shard : shards_) {
    for (size_t i = 0; i < buckets.size(); ++i) {
      buckets[i] += shard.buckets[i].load(std::memory_order_relaxed);
    }
    sum_nanos += shard.sum_nanos.load(std::memory_order_relaxed);
  }
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += buckets[i];
    counts.cumulative.push_back(running);
  }
  counts.count = running + buckets[bounds_.size()];
  counts.sum_seconds = static_cast<double>(sum_nanos) / 1e9;
  return counts;
}

}  // namespace eventbus

#include "base/histogram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace eventbus {
namespace {

using ::testing::ElementsAre;

TEST(HistogramTest, CountsAreCumulativeAndBoundsInclusive) {
  Histogram histogram({0.001, 0.01, 0.1});
  histogram.Observe(absl::Microseconds(500));
  histogram.Observe(absl::Milliseconds(1));  // on the bound: <= 0.001
  histogram.Observe(absl::Milliseconds(5));
  histogram.Observe(absl::Seconds(3));  // above every bound
  const Histogram::Counts counts = histogram.Snapshot();
  EXPECT_THAT(counts.bounds, ElementsAre(0.001, 0.01, 0.1));
  EXPECT_THAT(counts.cumulative, ElementsAre(2, 3, 3));
  EXPECT_EQ(counts.count, 4u);
  EXPECT_DOUBLE_EQ(counts.sum_seconds, 3.0065);
}

TEST(HistogramTest, NegativeDurationsCountAsZero) {
  Histogram histogram({0.001});
  histogram.Observe(absl::Milliseconds(-5));
  const Histogram::Counts counts = histogram.Snapshot();
  EXPECT_THAT(counts.cumulative, ElementsAre(1));
  EXPECT_EQ(counts.sum_seconds, 0);
}

TEST(HistogramTest, ThreadsObservingAtOnceLoseNothing) {
  Histogram histogram(Histogram::LatencyBounds());
  constexpr int kThreads = 8;
  constexpr int kEach = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) histogram.Observe(absl::Microseconds(1));
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Histogram::Counts counts = histogram.Snapshot();
  EXPECT_EQ(counts.count, uint64_t{kThreads} * kEach);
  EXPECT_EQ(counts.cumulative.front(), uint64_t{kThreads} * kEach);
}

TEST(HistogramTest, ATallyAddsWhatItSawWhenItGoesAway) {
  Histogram histogram({0.001, 0.01, 0.1});
  histogram.Observe(absl::Microseconds(500));
  {
    Histogram::Tally tally(&histogram);
    tally.Observe(absl::Milliseconds(1));
    tally.Observe(absl::Milliseconds(5));
    tally.Observe(absl::Seconds(3));
    tally.Observe(absl::Milliseconds(-1));      // as zero
    EXPECT_EQ(histogram.Snapshot().count, 1u);  // nothing added yet
  }
  const Histogram::Counts counts = histogram.Snapshot();
  EXPECT_THAT(counts.cumulative, ElementsAre(3, 4, 4));
  EXPECT_EQ(counts.count, 5u);
  EXPECT_DOUBLE_EQ(counts.sum_seconds, 3.0065);
  { Histogram::Tally empty(&histogram); }
  EXPECT_EQ(histogram.Snapshot().count, 5u);
}

}  // namespace
}  // namespace eventbus

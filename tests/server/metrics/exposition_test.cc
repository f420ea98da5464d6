#include "server/metrics/exposition.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eventbus {
namespace {

TEST(ExpositionTest, FamiliesAndSamples) {
  Exposition page;
  page.Counter("eventbus_events_published_total", "Events published.", 3);
  page.Family("eventbus_publish_rejected_total", "counter", "Refused.");
  page.Sample("eventbus_publish_rejected_total", 2,
              {{"code", "INVALID_ARGUMENT"}});
  page.Gauge("eventbus_ring_capacity", "Capacity.", 1024);
  EXPECT_EQ(page.text(),
            "# HELP eventbus_events_published_total Events published.\n"
            "# TYPE eventbus_events_published_total counter\n"
            "eventbus_events_published_total 3\n"
            "# HELP eventbus_publish_rejected_total Refused.\n"
            "# TYPE eventbus_publish_rejected_total counter\n"
            "eventbus_publish_rejected_total{code=\"INVALID_ARGUMENT\"} 2\n"
            "# HELP eventbus_ring_capacity Capacity.\n"
            "# TYPE eventbus_ring_capacity gauge\n"
            "eventbus_ring_capacity 1024\n");
}

TEST(ExpositionTest, LabelValuesAndHelpAreEscaped) {
  Exposition page;
  page.Family("x", "gauge", "a \\ b\nc");
  page.Sample("x", 0.25, {{"subscriber", "q\"u\\o\nte"}});
  EXPECT_EQ(page.text(),
            "# HELP x a \\\\ b\\nc\n"
            "# TYPE x gauge\n"
            "x{subscriber=\"q\\\"u\\\\o\\nte\"} 0.25\n");
}

TEST(ExpositionTest, HistogramHasCumulativeBucketsSumAndCount) {
  Histogram histogram({0.001, 0.01});
  histogram.Observe(absl::Microseconds(500));
  histogram.Observe(absl::Milliseconds(5));
  histogram.Observe(absl::Seconds(1));
  Exposition page;
  page.HistogramSamples("d_seconds", histogram.Snapshot());
  EXPECT_EQ(page.text(),
            "d_seconds_bucket{le=\"0.001\"} 1\n"
            "d_seconds_bucket{le=\"0.01\"} 2\n"
            "d_seconds_bucket{le=\"+Inf\"} 3\n"
            "d_seconds_sum 1.0055\n"
            "d_seconds_count 3\n");
}

}  // namespace
}  // namespace eventbus

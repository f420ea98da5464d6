// Exposition: writes metrics in the Prometheus text format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Each family is written whole, once: its # HELP and # TYPE lines, then its
// samples. Label values are escaped (backslash, double quote, newline), so a
// subscriber name a client chose cannot break the page. Not thread-safe:
// one page per writer.
#ifndef EVENTBUS_SERVER_METRICS_EXPOSITION_H_
#define EVENTBUS_SERVER_METRICS_EXPOSITION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "base/histogram.h"

namespace eventbus {

// name="value" pairs of one sample.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  // The Content-Type of the page.
  static constexpr char kContentType[] =
      "text/plain; version=0.0.4; charset=utf-8";

  // Starts a family; `type` is "counter" (`name` ends in _total, as its
  // samples' names do), "gauge" or "histogram".
  void Family(absl::string_view name, absl::string_view type,
              absl::string_view help);
  // One sample of the current family.
  void Sample(absl::string_view name, double value, const Labels& labels = {});
  // A histogram family's samples: NAME_bucket{le=...}, NAME_sum and
  // NAME_count.
  void HistogramSamples(absl::string_view name, const Histogram::Counts& counts,
                        const Labels& labels = {});

  // A whole family of one sample.
  void Counter(absl::string_view name, absl::string_view help, double value);
  void Gauge(absl::string_view name, absl::string_view help, double value);

  const std::string& text() const { return text_; }

  // `value` with \, " and newline escaped, as a label value.
  static std::string EscapeLabelValue(absl::string_view value);

 private:
  std::string text_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_METRICS_EXPOSITION_H_

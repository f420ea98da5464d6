#include "server/metrics/exposition.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace eventbus {
namespace {

// Integers as integers; others with enough digits to round-trip.
std::string FormatValue(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  std::string shortest = absl::StrFormat("%.15g", value);
  if (std::strtod(shortest.c_str(), nullptr) == value) return shortest;
  return absl::StrFormat("%.17g", value);
}

// HELP text escapes only backslash and newline.
std::string EscapeHelp(absl::string_view help) {
  std::string escaped;
  for (char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

}  // namespace

std::string Exposition::EscapeLabelValue(absl::string_view value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

void Exposition::Family(absl::string_view name, absl::string_view type,
                        absl::string_view help) {
  absl::StrAppend(&text_, "# HELP ", name, " ", EscapeHelp(help), "\n",
                  "# TYPE ", name, " ", type, "\n");
}

void Exposition::Sample(absl::string_view name, double value,
                        const Labels& labels) {
  absl::StrAppend(&text_, name);
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&text_, i > 0 ? "," : "", labels[i].first, "=\"",
                      EscapeLabelValue(labels[i].second), "\"");
    }
    text_ += '}';
  }
  absl::StrAppend(&text_, " ", FormatValue(value), "\n");
}

void Exposition::HistogramSamples(absl::string_view name,
                                  const Histogram::Counts& counts,
                                  const Labels& labels) {
  const std::string bucket = absl::StrCat(name, "_bucket");
  for (size_t i = 0; i < counts.bounds.size(); ++i) {
    Labels with_le = labels;
    with_le.emplace_back("le", FormatValue(counts.bounds[i]));
    Sample(bucket, static_cast<double>(counts.cumulative[i]), with_le);
  }
  Labels infinity = labels;
  infinity.emplace_back("le", "+Inf");
  Sample(bucket, static_cast<double>(counts.count), infinity);
  Sample(absl::StrCat(name, "_sum"), counts.sum_seconds, labels);
  Sample(absl::StrCat(name, "_count"), static_cast<double>(counts.count),
         labels);
}

void Exposition::Counter(absl::string_view name, absl::string_view help,
                         double value) {
  Family(name, "counter", help);
  Sample(name, value);
}

void Exposition::Gauge(absl::string_view name, absl::string_view help,
                       double value) {
  Family(name, "gauge", help);
  Sample(name, value);
}

}  // namespace eventbus

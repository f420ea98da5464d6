// Value syntax shared by every source of a setting (the YAML file, the
// environment, the flags): integers, sizes, durations and file paths, and
// how messages quote a value. Each parser fails with InvalidArgument and the
// reason only ("must be between 1 and 16777216, got 0"); the caller adds
// where the value came from. Stateless: safe from any thread.
#ifndef EVENTBUS_SERVER_CONFIG_VALUES_H_
#define EVENTBUS_SERVER_CONFIG_VALUES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace eventbus {

// Abseil here has its own string_view; the public interface uses std's.
inline absl::string_view View(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// Value text quoted the way messages show it, C-escaped: "many".
std::string Quoted(absl::string_view text);

// "must be between MIN and MAX, got TEXT".
absl::Status OutOfRange(absl::string_view min, absl::string_view max,
                        absl::string_view text);

// Whether `text` is one or more decimal digits and nothing else.
bool AllDigits(absl::string_view text);

// A decimal integer in [min, max]. Signs, fractions and other bases are
// rejected; a number too large for uint64_t is out of range.
absl::StatusOr<uint64_t> ParseInteger(absl::string_view text, uint64_t min,
                                      uint64_t max);

// Integer bytes, optionally followed by B, KiB, MiB or GiB ("512KiB", "1 MiB"),
// in [min, max] bytes.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text, uint64_t min,
                                   uint64_t max);

// "1MiB" for 1048576, "512KiB" for 524288, "100B" for 100: what ParseSize
// reads back.
std::string FormatSize(uint64_t bytes);

// A duration ("5s", "500ms", "1m30s", "0") in [min, max]. Messages show the
// range as FormatDurationBound does.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text,
                                             absl::Duration min,
                                             absl::Duration max);

// A range end as messages and the usage text show it: absl::FormatDuration,
// except "0s" for zero ("between 0s and 1h").
std::string FormatDurationBound(absl::Duration bound);

// A file path: any non-empty text (the file is read when the daemon starts).
absl::StatusOr<std::string> ParsePath(absl::string_view text);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_VALUES_H_

#include "server/config/values.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace eventbus {

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

absl::Status OutOfRange(absl::string_view min, absl::string_view max,
                        absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat("must be between ", min, " and ", max, ", got ", text));
}

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

absl::StatusOr<uint64_t> ParseInteger(absl::string_view text, uint64_t min,
                                      uint64_t max) {
  if (!text.empty() && text[0] == '-' && AllDigits(text.substr(1))) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a non-negative integer, got ", Quoted(text)));
  }
  if (!AllDigits(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an integer, got ", Quoted(text)));
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return OutOfRange(absl::StrCat(min), absl::StrCat(max), text);
  }
  return value;
}

absl::StatusOr<uint64_t> ParseSize(absl::string_view text, uint64_t min,
                                   uint64_t max) {
  size_t digits = 0;
  while (digits < text.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  const absl::string_view suffix =
      absl::StripLeadingAsciiWhitespace(text.substr(digits));
  uint64_t multiplier = 0;
  if (suffix.empty() || suffix == "B") {
    multiplier = 1;
  } else if (suffix == "KiB") {
    multiplier = uint64_t{1} << 10;
  } else if (suffix == "MiB") {
    multiplier = uint64_t{1} << 20;
  } else if (suffix == "GiB") {
    multiplier = uint64_t{1} << 30;
  }
  if (digits == 0 || multiplier == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a size in bytes like 1048576, \"512KiB\" or \"1MiB\", got ",
        Quoted(text)));
  }
  uint64_t count = 0;
  if (!absl::SimpleAtoi(text.substr(0, digits), &count) ||
      count > max / multiplier || count * multiplier < min) {
    return OutOfRange(absl::StrCat(min), absl::StrCat(max), text);
  }
  return count * multiplier;
}

std::string FormatSize(uint64_t bytes) {
  if (bytes != 0 && bytes % (uint64_t{1} << 30) == 0) {
    return absl::StrCat(bytes >> 30, "GiB");
  }
  if (bytes != 0 && bytes % (uint64_t{1} << 20) == 0) {
    return absl::StrCat(bytes >> 20, "MiB");
  }
  if (bytes != 0 && bytes % (uint64_t{1} << 10) == 0) {
    return absl::StrCat(bytes >> 10, "KiB");
  }
  return absl::StrCat(bytes, "B");
}

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text,
                                             absl::Duration min,
                                             absl::Duration max) {
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a duration like \"5s\", \"500ms\" or \"1m\", got ",
        Quoted(text)));
  }
  if (duration < min || duration > max) {
    return OutOfRange(FormatDurationBound(min), FormatDurationBound(max), text);
  }
  return duration;
}

std::string FormatDurationBound(absl::Duration bound) {
  if (bound == absl::ZeroDuration()) return "0s";
  return absl::FormatDuration(bound);
}

absl::StatusOr<std::string> ParsePath(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError(
        "expected a file path, got \"\" (leave the key out for none)");
  }
  return std::string(text);
}

}  // namespace eventbus

#include "bench/json_line.h"

#include <cmath>

#include "absl/strings/str_format.h"

namespace eventbus::bench {

void JsonLine::Key(std::string_view key) {
  body_ += body_.empty() ? "\"" : ", \"";
  body_ += key;
  body_ += "\": ";
}

JsonLine& JsonLine::Str(std::string_view key, std::string_view value) {
  Key(key);
  body_ += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      body_ += '\\';
      body_ += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&body_, "\\u%04x", c);
    } else {
      body_ += c;
    }
  }
  body_ += '"';
  return *this;
}

JsonLine& JsonLine::Num(std::string_view key, double value, int decimals) {
  Key(key);
  if (!std::isfinite(value)) {
    body_ += "null";
  } else {
    absl::StrAppendFormat(&body_, "%.*f", decimals, value);
  }
  return *this;
}

JsonLine& JsonLine::Int(std::string_view key, int64_t value) {
  Key(key);
  body_ += std::to_string(value);
  return *this;
}

JsonLine& JsonLine::Bool(std::string_view key, bool value) {
  Key(key);
  body_ += value ? "true" : "false";
  return *this;
}

}  // namespace eventbus::bench

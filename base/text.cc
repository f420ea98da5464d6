#include "base/text.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace eventbus {
namespace {

// Length of the UTF-8 sequence at the start of `text`, or 0 when it is not
// a well-formed one.
size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto continuation = [&](size_t i) {
    return i < text.size() && (byte(i) & 0xC0) == 0x80;
  };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // a continuation byte, or overlong
  if (lead < 0xE0) return continuation(1) ? 2 : 0;
  if (lead < 0xF0) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (lead == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
    if (lead == 0xED && byte(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (lead < 0xF5) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (lead == 0xF0 && byte(1) < 0x90) return 0;   // overlong
    if (lead == 0xF4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  while (!text.empty()) {
    // ASCII, the common case, eight bytes at a time.
    uint64_t word;
    while (text.size() >= sizeof(word)) {
      std::memcpy(&word, text.data(), sizeof(word));
      if ((word & 0x8080808080808080u) != 0) break;
      text.remove_prefix(sizeof(word));
    }
    if (text.empty()) break;
    const size_t length = Utf8SequenceLength(text);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

std::string EscapeForLog(std::string_view text, size_t max_bytes) {
  const size_t total = text.size();
  if (text.size() > max_bytes) text = text.substr(0, max_bytes);
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto lead = static_cast<uint8_t>(text[0]);
    size_t length = Utf8SequenceLength(text);
    const bool c1_control =
        length == 2 && lead == 0xC2 && static_cast<uint8_t>(text[1]) < 0xA0;
    if (length == 0 || lead < 0x20 || lead == 0x7F || lead == '\\') {
      absl::StrAppendFormat(&out, "\\x%02x", lead);
      length = 1;
    } else if (c1_control) {  // U+0080-U+009F: CSI and the like
      absl::StrAppendFormat(&out, "\\xc2\\x%02x",
                            static_cast<uint8_t>(text[1]));
    } else {
      out.append(text.data(), length);
    }
    text.remove_prefix(length);
  }
  if (total > max_bytes) absl::StrAppend(&out, "...(", total, " bytes)");
  return out;
}

std::string WithoutCredentials(std::string_view urls) {
  std::string out;
  size_t begin = 0;
  while (begin <= urls.size()) {
    size_t end = urls.find(',', begin);
    if (end == std::string_view::npos) end = urls.size();
    std::string_view url = urls.substr(begin, end - begin);
    const size_t scheme = url.find("://");
    const size_t host = scheme == std::string_view::npos ? 0 : scheme + 3;
    const size_t at = url.rfind('@');
    if (!out.empty() || begin > 0) out += ',';
    if (at != std::string_view::npos && at >= host) {
      out.append(url.substr(0, host)).append("***").append(url.substr(at));
    } else {
      out.append(url);
    }
    begin = end + 1;
  }
  return out;
}

}  // namespace eventbus

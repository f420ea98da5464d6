#include "server/daemon/json_log_formatter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace eventbus {
namespace {

void AppendJsonString(std::string* out, const char* data, size_t size) {
  out->push_back('"');
  for (size_t i = 0; i < size; ++i) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& message,
                              spdlog::memory_buf_t& out) {
  std::string line = "{\"time\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                           absl::FromChrono(message.time), absl::UTCTimeZone());
  line += "\",\"level\":";
  const spdlog::string_view_t level =
      spdlog::level::to_string_view(message.level);
  AppendJsonString(&line, level.data(), level.size());
  line += ",\"logger\":";
  AppendJsonString(&line, message.logger_name.data(),
                   message.logger_name.size());
  absl::StrAppend(&line, ",\"thread\":", message.thread_id, ",\"message\":");
  AppendJsonString(&line, message.payload.data(), message.payload.size());
  line += "}\n";
  out.append(line.data(), line.data() + line.size());
}

}  // namespace eventbus

// JsonLogFormatter: log.format json. Each message becomes one line holding
// one JSON object, for log shippers (Loki, Fluent Bit, Vector):
//
//   {"time":"2026-12-03T16:36:21.123456Z","level":"info",
//    "logger":"eventbusd","thread":1234,"message":"..."}
//
// Strings are escaped as JSON requires (quote, backslash, control
// characters as \uXXXX); client text in messages was escaped for the log
// already (base/text.h). spdlog clones it per sink; stateless otherwise.
#ifndef EVENTBUS_SERVER_DAEMON_JSON_LOG_FORMATTER_H_
#define EVENTBUS_SERVER_DAEMON_JSON_LOG_FORMATTER_H_

#include <spdlog/formatter.h>

#include <memory>

namespace eventbus {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& message,
              spdlog::memory_buf_t& out) override;
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>();
  }
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_DAEMON_JSON_LOG_FORMATTER_H_

// The `log` section of the config: the daemon's own log. Plain values. The
// rows that read them are in log_section.cc.
#ifndef EVENTBUS_SERVER_CONFIG_LOG_SECTION_H_
#define EVENTBUS_SERVER_CONFIG_LOG_SECTION_H_

#include <string>

namespace eventbus {

// log: the daemon's own log.
struct LogConfig {
  // log.level: trace|debug|info|warn|error.
  std::string level = "info";
  // log.format: text (one line for people) or json (one JSON object per
  // line, for log shippers).
  std::string format = "text";
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_LOG_SECTION_H_

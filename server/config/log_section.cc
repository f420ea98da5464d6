// The rows of `log`.

#include <vector>

#include "server/config/settings.h"

namespace eventbus {

std::vector<Setting> LogSettings() {
  const SectionRows<LogConfig> log("log", &Config::log, FlagPrefix::kSection);
  return {
      log.Row("level", &LogConfig::level,
              OneOf("LEVEL", {"trace", "debug", "info", "warn", "error"}),
              "least severe messages logged"),
      log.Row("format", &LogConfig::format, OneOf("FORMAT", {"text", "json"}),
              "one line per message as text, or as a JSON object"),
  };
}

}  // namespace eventbus

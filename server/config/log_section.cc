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
  };
}

}  // namespace eventbus

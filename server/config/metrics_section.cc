// The rows of `metrics`.

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/config/settings.h"
#include "server/config/values.h"

namespace eventbus {
namespace {

// IPv4:port, or empty for none. (Debian's civetweb is built without IPv6,
// and it listens on addresses, not names.)
ValueKind<std::string> Ipv4AddressOrNone() {
  return {
      .metavar = "ADDR",
      .expected = "a string",
      .domain = " (IPv4:port; empty: off)",
      .parse = [](absl::string_view text) -> absl::StatusOr<std::string> {
        const std::string address(text);
        if (address.empty()) return address;
        const size_t colon = address.rfind(':');
        in_addr host;
        uint32_t port = 0;
        if (colon == std::string::npos ||
            inet_pton(AF_INET, address.substr(0, colon).c_str(), &host) != 1 ||
            !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
            port > 65535) {
          return absl::InvalidArgumentError(
              absl::StrCat("expected IPv4:port (such as 127.0.0.1:9464), got ",
                           Quoted(text)));
        }
        return address;
      },
      .show = [](const std::string& address) { return address; },
  };
}

}  // namespace

std::vector<Setting> MetricsSettings() {
  const SectionRows<MetricsConfig> metrics("metrics", &Config::metrics,
                                           FlagPrefix::kSection);
  return {
      metrics.Row("address", &MetricsConfig::address, Ipv4AddressOrNone(),
                  "serve Prometheus GET /metrics and GET /healthz there"),
      metrics.Row("max_subscriber_series",
                  &MetricsConfig::max_subscriber_series, IntegerIn(0, 10000),
                  "named subscribers with their own behind series"),
  };
}

}  // namespace eventbus

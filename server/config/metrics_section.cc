// The rows of `metrics`.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/config/address.h"
#include "server/config/settings.h"
#include "server/config/values.h"

namespace eventbus {
namespace {

// host:port or [IPv6]:port, or empty for none (a unix socket is not served
// over HTTP).
ValueKind<std::string> HttpAddressOrNone() {
  return {
      .metavar = "ADDR",
      .expected = "a string",
      .domain = " (empty: off)",
      .parse = [](absl::string_view text) -> absl::StatusOr<std::string> {
        const std::string address(text);
        if (address.empty()) return address;
        if (absl::StartsWith(address, "unix:")) {
          return absl::InvalidArgumentError(absl::StrCat(
              "expected host:port or [IPv6]:port, got ", Quoted(text)));
        }
        if (absl::Status status = ValidateAddress(address); !status.ok()) {
          return status;
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
      metrics.Row("address", &MetricsConfig::address, HttpAddressOrNone(),
                  "serve Prometheus GET /metrics and GET /healthz on "
                  "host:port"),
      metrics.Row("max_subscriber_series",
                  &MetricsConfig::max_subscriber_series, IntegerIn(0, 10000),
                  "named subscribers with their own behind series"),
  };
}

}  // namespace eventbus

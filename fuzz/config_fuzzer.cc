// Fuzzes ParseConfigYaml with arbitrary text. It must never crash, throw or
// hang; it returns either InvalidArgument with a message that starts with the
// source name, or a Config whose every value is in its documented range. An
// accepted value must also be accepted, unchanged, when it comes from the
// environment, and (for printable values) when written back out as YAML.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "server/bus/bus.h"
#include "server/config/config.h"

namespace eventbus {
namespace {

bool Equal(const Config& a, const Config& b) {
  return a.server.address == b.server.address &&
         a.server.drain_timeout == b.server.drain_timeout &&
         a.server.max_subscribers == b.server.max_subscribers &&
         a.bus.capacity == b.bus.capacity &&
         a.bus.max_event_bytes == b.bus.max_event_bytes &&
         a.log.level == b.log.level;
}

void CheckRanges(const Config& config) {
  FUZZ_CHECK(!config.server.address.empty());
  FUZZ_CHECK(config.server.drain_timeout >= absl::ZeroDuration());
  FUZZ_CHECK(config.server.drain_timeout <= absl::Hours(1));
  FUZZ_CHECK(config.server.max_subscribers >= 1);
  FUZZ_CHECK(config.server.max_subscribers <= BusOptions::kMaxSubscribers);
  FUZZ_CHECK(config.bus.capacity >= 1);
  FUZZ_CHECK(config.bus.capacity <= BusOptions::kMaxCapacity);
  FUZZ_CHECK(config.bus.max_event_bytes >= BusOptions::kMinEventBytes);
  FUZZ_CHECK(config.bus.max_event_bytes <= BusOptions::kMaxEventBytes);
  FUZZ_CHECK(config.log.level == "trace" || config.log.level == "debug" ||
             config.log.level == "info" || config.log.level == "warn" ||
             config.log.level == "error");
}

// The same values as EVENTBUS_* variables, applied on top of a Config that
// differs from `config` in every field.
void CheckEnvironmentAgrees(const Config& config) {
  const std::map<std::string, std::string> vars = {
      {"EVENTBUS_SERVER_ADDRESS", config.server.address},
      {"EVENTBUS_SERVER_DRAIN_TIMEOUT",
       absl::FormatDuration(config.server.drain_timeout)},
      {"EVENTBUS_SERVER_MAX_SUBSCRIBERS",
       absl::StrCat(config.server.max_subscribers)},
      {"EVENTBUS_BUS_CAPACITY", absl::StrCat(config.bus.capacity)},
      {"EVENTBUS_BUS_MAX_EVENT_BYTES",
       absl::StrCat(config.bus.max_event_bytes)},
      {"EVENTBUS_LOG_LEVEL", config.log.level},
  };
  Config other;
  other.server.address = "unix:/other";
  other.server.drain_timeout =
      absl::Seconds(config.server.drain_timeout == absl::Seconds(7) ? 8 : 7);
  other.server.max_subscribers = config.server.max_subscribers == 3 ? 4 : 3;
  other.bus.capacity = config.bus.capacity == 3 ? 4 : 3;
  other.bus.max_event_bytes = config.bus.max_event_bytes == 100 ? 101 : 100;
  other.log.level = config.log.level == "error" ? "warn" : "error";
  const absl::Status status = ApplyEnvironment(
      [&vars](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
      },
      &other);
  if (!status.ok()) {
    std::fprintf(stderr, "environment rejects an accepted value: %s\n",
                 std::string(status.message()).c_str());
  }
  FUZZ_CHECK(status.ok());
  FUZZ_CHECK(Equal(other, config));
}

bool Printable(std::string_view text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// YAML double-quoted scalar for printable ASCII.
std::string YamlQuoted(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// The config written back as YAML parses to the same config.
void CheckYamlRoundTrip(const Config& config) {
  if (!Printable(config.server.address)) return;
  const std::string text = absl::StrCat(
      "server:\n  address: ", YamlQuoted(config.server.address),
      "\n  drain_timeout: ",
      YamlQuoted(absl::FormatDuration(config.server.drain_timeout)),
      "\n  max_subscribers: ", config.server.max_subscribers,
      "\nbus:\n  capacity: ", config.bus.capacity,
      "\n  max_event_bytes: ", config.bus.max_event_bytes,
      "\nlog:\n  level: ", config.log.level, "\n");
  const absl::StatusOr<Config> again = ParseConfigYaml(text, "again", Config{});
  if (!again.ok()) {
    std::fprintf(stderr, "round trip rejected:\n%s\n%s\n", text.c_str(),
                 std::string(again.status().message()).c_str());
  }
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(Equal(*again, config));
}

}  // namespace
}  // namespace eventbus

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using eventbus::Config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<Config> config =
      eventbus::ParseConfigYaml(text, "fuzz.yaml", Config{});
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(config.status().message(), "fuzz.yaml"));
    return 0;
  }
  eventbus::CheckRanges(*config);
  eventbus::CheckEnvironmentAgrees(*config);
  eventbus::CheckYamlRoundTrip(*config);
  return 0;
}

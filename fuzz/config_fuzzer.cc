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
#include "server/config.h"

namespace eventbus {
namespace {

bool Equal(const Config& a, const Config& b) {
  return a.address == b.address && a.drain_timeout == b.drain_timeout &&
         a.max_subscribers == b.max_subscribers && a.capacity == b.capacity &&
         a.max_event_bytes == b.max_event_bytes && a.log_level == b.log_level;
}

void CheckRanges(const Config& config) {
  FUZZ_CHECK(!config.address.empty());
  FUZZ_CHECK(config.drain_timeout >= absl::ZeroDuration());
  FUZZ_CHECK(config.drain_timeout <= absl::Hours(1));
  FUZZ_CHECK(config.max_subscribers >= 1);
  FUZZ_CHECK(config.max_subscribers <= 1000000);
  FUZZ_CHECK(config.capacity >= 1);
  FUZZ_CHECK(config.capacity <= 16777216);
  FUZZ_CHECK(config.max_event_bytes >= 64);
  FUZZ_CHECK(config.max_event_bytes <= (uint64_t{64} << 20));
  FUZZ_CHECK(config.log_level == "trace" || config.log_level == "debug" ||
             config.log_level == "info" || config.log_level == "warn" ||
             config.log_level == "error");
}

// The same values as EVENTBUS_* variables, applied on top of a Config that
// differs from `config` in every field.
void CheckEnvironmentAgrees(const Config& config) {
  const std::map<std::string, std::string> vars = {
      {"EVENTBUS_SERVER_ADDRESS", config.address},
      {"EVENTBUS_SERVER_DRAIN_TIMEOUT",
       absl::FormatDuration(config.drain_timeout)},
      {"EVENTBUS_SERVER_MAX_SUBSCRIBERS", absl::StrCat(config.max_subscribers)},
      {"EVENTBUS_BUS_CAPACITY", absl::StrCat(config.capacity)},
      {"EVENTBUS_BUS_MAX_EVENT_BYTES", absl::StrCat(config.max_event_bytes)},
      {"EVENTBUS_LOG_LEVEL", config.log_level},
  };
  Config other;
  other.address = "unix:/other";
  other.drain_timeout =
      absl::Seconds(config.drain_timeout == absl::Seconds(7) ? 8 : 7);
  other.max_subscribers = config.max_subscribers == 3 ? 4 : 3;
  other.capacity = config.capacity == 3 ? 4 : 3;
  other.max_event_bytes = config.max_event_bytes == 100 ? 101 : 100;
  other.log_level = config.log_level == "error" ? "warn" : "error";
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
  if (!Printable(config.address)) return;
  const std::string text = absl::StrCat(
      "server:\n  address: ", YamlQuoted(config.address), "\n  drain_timeout: ",
      YamlQuoted(absl::FormatDuration(config.drain_timeout)),
      "\n  max_subscribers: ", config.max_subscribers,
      "\nbus:\n  capacity: ", config.capacity,
      "\n  max_event_bytes: ", config.max_event_bytes,
      "\nlog:\n  level: ", config.log_level, "\n");
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

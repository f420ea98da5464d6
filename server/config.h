// Daemon configuration: the settings eventbusd runs with and where they come
// from. Precedence, lowest first:
//
//   embedded defaults < --config FILE < EVENTBUS_* environment < flags
//
// Every setting has one dotted config key (`bus.capacity`), one environment
// variable (`EVENTBUS_BUS_CAPACITY`) and one flag (`--capacity`), and all three
// accept the same value syntax. `config/eventbus.yaml` is a documented example.
//
// Every failure is an absl::InvalidArgumentError carrying one message that
// says where the bad value came from and why it is bad, ready to print:
//
//   eventbus.yaml:7: bus.capacity: must be between 1 and 16777216, got 0
//   environment EVENTBUS_LOG_LEVEL: log.level: must be one of ...
//   --capacity: must be between 1 and 16777216, got 0
//
// The functions hold no state: they are safe to call from any thread. Only
// LoadConfigFile and ParseInvocation touch the file system (to read the file).
// The YAML library stays inside config.cc; nothing here throws.
#ifndef EVENTBUS_SERVER_CONFIG_H_
#define EVENTBUS_SERVER_CONFIG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace eventbus {

// Daemon configuration. Defaults are the embedded defaults.
struct Config {
  // server.address: host:port (host a name, an IPv4 address or an [IPv6]
  // address; port 0..65535, 0 picks a free port) or unix:PATH.
  std::string address = "127.0.0.1:50051";
  // server.drain_timeout: how long shutdown waits for subscribers to drain;
  // a duration string like "5s", "500ms", "1m"; 0 <= value <= 1h.
  absl::Duration drain_timeout = absl::Seconds(5);
  // server.max_subscribers: concurrent subscriptions; 1..1000000.
  uint32_t max_subscribers = 10000;
  // bus.capacity: events kept in the ring; 1..16777216.
  uint64_t capacity = 1024;
  // bus.max_event_bytes: largest accepted event; 64..64 MiB; integer bytes or
  // a string with suffix B, KiB or MiB ("1MiB", "512KiB").
  uint64_t max_event_bytes = 1 << 20;
  // log.level: trace|debug|info|warn|error.
  std::string log_level = "info";
};

// What the command line asked for.
struct Invocation {
  Config config;
  std::string config_path;  // empty when --config was not given
  bool show_help = false;
  bool show_version = false;
};

// Parses YAML text on top of `base`: keys present in `text` replace the values
// of `base`, the others are kept. `source` (a file name) prefixes messages.
// An empty text, or one with only comments, returns `base`. Fails on malformed
// YAML, unknown keys (at any level), duplicate keys, values of the wrong type
// (including null) and values out of range.
absl::StatusOr<Config> ParseConfigYaml(std::string_view text,
                                       std::string_view source, Config base);

// Reads the file at `path` and parses it with ParseConfigYaml (the path is the
// source in messages). A missing or unreadable file is an error naming it:
// "cannot read config file PATH: REASON".
absl::StatusOr<Config> LoadConfigFile(const std::string& path, Config base);

// Applies EVENTBUS_SERVER_ADDRESS, EVENTBUS_SERVER_DRAIN_TIMEOUT,
// EVENTBUS_SERVER_MAX_SUBSCRIBERS, EVENTBUS_BUS_CAPACITY,
// EVENTBUS_BUS_MAX_EVENT_BYTES, EVENTBUS_LOG_LEVEL. `getenv` returns nullopt
// when unset; a variable that is set but empty is invalid. On failure
// `*config` is left unchanged.
absl::Status ApplyEnvironment(
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    Config* config);

// Full precedence: embedded defaults < --config FILE < EVENTBUS_* environment
// < flags. Flags: --config FILE, --address ADDR, --drain-timeout DUR,
// --max-subscribers N, --capacity N, --max-event-bytes SIZE, --log-level
// LEVEL, --help/-h, --version; each takes "--flag value" or "--flag=value",
// and the last of a repeated flag wins. With --help or --version only the
// flag syntax is checked: no file is read and `config` holds the defaults.
absl::StatusOr<Invocation> ParseInvocation(
    int argc, const char* const* argv,
    const std::function<std::optional<std::string>(const std::string&)>&
        getenv);

// Usage text for --help listing every flag, the env variables and the config
// keys, with their defaults.
std::string UsageText();

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_H_

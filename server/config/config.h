// Daemon configuration: the settings eventbusd runs with and where they come
// from. Precedence, lowest first:
//
//   embedded defaults < --config FILE < EVENTBUS_* environment < flags
//
// Every setting has one dotted config key (`bus.capacity`), one environment
// variable (`EVENTBUS_BUS_CAPACITY`) and one flag (`--capacity`), and all three
// accept the same value syntax. Sections nest: `server.tls.cert_file` is
// `cert_file` in the map `tls` in the map `server`. One setting,
// `auth.subjects`, is a YAML map; its environment variable and flag take the
// same entries as "CN=GRANTS;CN=GRANTS". The bearer tokens themselves come
// only from a file (auth.tokens_file) or EVENTBUS_AUTH_TOKENS, never from a
// flag, which other users could read. `config/eventbus.yaml` is a documented
// example.
//
// Every failure is an absl::InvalidArgumentError carrying one message that
// says where the bad value came from and why it is bad, ready to print:
//
//   eventbus.yaml:7: bus.capacity: must be between 1 and 16777216, got 0
//   environment EVENTBUS_LOG_LEVEL: log.level: must be trace, debug, ...
//   --capacity: must be between 1 and 16777216, got 0
//
// The functions hold no state: they are safe to call from any thread. Only
// LoadConfigFile and ParseInvocation touch the file system (to read files).
// The YAML library stays inside yaml_file.cc; nothing here throws.
//
// One struct per section, each in its own header (server_section.h, ...);
// the comment on each field names its key and range. The ranges a component
// enforces are its constants (BusOptions::kMaxCapacity,
// RequestLimits::kMaxAttributes, ...), not copies here. README.md says how
// to add a setting.
#ifndef EVENTBUS_SERVER_CONFIG_CONFIG_H_
#define EVENTBUS_SERVER_CONFIG_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/config/address.h"          // IWYU pragma: export
#include "server/config/auth_section.h"     // IWYU pragma: export
#include "server/config/bus_section.h"      // IWYU pragma: export
#include "server/config/forward_section.h"  // IWYU pragma: export
#include "server/config/limits_section.h"   // IWYU pragma: export
#include "server/config/log_section.h"      // IWYU pragma: export
#include "server/config/metrics_section.h"  // IWYU pragma: export
#include "server/config/server_section.h"   // IWYU pragma: export
#include "server/config/storage_section.h"  // IWYU pragma: export
#include "server/security/grants.h"         // IWYU pragma: export

namespace eventbus {

// Daemon configuration. Defaults are the embedded defaults.
struct Config {
  ServerConfig server;
  BusConfig bus;
  StorageConfig storage;
  ForwardConfig forward;
  LimitsConfig limits;
  AuthConfig auth;
  MetricsConfig metrics;
  LogConfig log;
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

// Applies the EVENTBUS_* variable of every setting (EVENTBUS_SERVER_ADDRESS,
// EVENTBUS_BUS_CAPACITY, EVENTBUS_SERVER_TLS_CERT_FILE,
// EVENTBUS_LIMITS_MAX_ATTRIBUTES, ...: the key in capitals, dots as '_'; the
// usage text lists them) and EVENTBUS_AUTH_TOKENS, which has no key nor flag
// and is kept as is in auth.tokens (parsed when the daemon starts).
// `getenv` returns nullopt when unset; a variable that is set but empty is
// invalid. On failure `*config` is left unchanged.
absl::Status ApplyEnvironment(
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    Config* config);

// Checks what no single setting can: server.tls.cert_file and key_file come
// together; client_ca_file needs them; auth.subjects needs client_ca_file.
// Error: InvalidArgument naming the keys.
absl::Status ValidateConfig(const Config& config);

// Full precedence: embedded defaults < --config FILE < EVENTBUS_* environment
// < flags, then ValidateConfig. Flags: --config FILE, one flag per setting
// (--address ADDR, --capacity N, --tls-cert-file FILE, --max-attributes N,
// ...; see UsageText), --help/-h, --version; each takes "--flag value" or
// "--flag=value", and the last of a repeated flag wins. With --help or
// --version only the flag syntax is checked: no file is read and `config`
// holds the defaults.
absl::StatusOr<Invocation> ParseInvocation(
    int argc, const char* const* argv,
    const std::function<std::optional<std::string>(const std::string&)>&
        getenv);

// The keys whose values differ between `a` and `b`, in usage order (for a
// reload). The tokens of EVENTBUS_AUTH_TOKENS are not a setting: not
// compared.
std::vector<std::string> ChangedSettings(const Config& a, const Config& b);

// Usage text for --help listing every flag, the env variables and the config
// keys, with their defaults.
std::string UsageText();

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_CONFIG_H_

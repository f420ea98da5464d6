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
//   environment EVENTBUS_LOG_LEVEL: log.level: must be one of ...
//   --capacity: must be between 1 and 16777216, got 0
//
// The functions hold no state: they are safe to call from any thread. Only
// LoadConfigFile, ReadSettingFile and ParseInvocation touch the file system
// (to read files).
// The YAML library stays inside config.cc; nothing here throws.
#ifndef EVENTBUS_SERVER_CONFIG_H_
#define EVENTBUS_SERVER_CONFIG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace eventbus {

// What a bearer token or a client certificate subject may do.
struct Grants {
  bool publish = false;
  bool subscribe = false;

  friend bool operator==(const Grants&, const Grants&) = default;
};

// Parses "publish", "subscribe" or "publish,subscribe" (either order,
// blanks around the commas allowed). Error: InvalidArgument with the reason
// only ("grants must be ..., got ...").
absl::StatusOr<Grants> ParseGrants(std::string_view text);
// "publish", "subscribe", "publish,subscribe" or "none".
std::string FormatGrants(Grants grants);

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
  // server.keepalive_time: the daemon pings a connection that has been quiet
  // this long; 1s..24h.
  absl::Duration keepalive_time = absl::Minutes(1);
  // server.keepalive_timeout: a connection whose ping is not answered within
  // this long is closed, and its streams with it; 1s..1h.
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // bus.capacity: events kept in the ring; 1..16777216.
  uint64_t capacity = 1024;
  // bus.max_event_bytes: largest accepted event; 64..64 MiB; integer bytes or
  // a string with suffix B, KiB or MiB ("1MiB", "512KiB").
  uint64_t max_event_bytes = 1 << 20;
  // log.level: trace|debug|info|warn|error.
  std::string log_level = "info";

  // server.tls: TLS on the listener. Empty strings: off. The files are read
  // when the daemon starts (see ValidateConfig for the combinations).
  struct Tls {
    // server.tls.cert_file: PEM certificate chain of the server.
    std::string cert_file;
    // server.tls.key_file: PEM private key of that certificate.
    std::string key_file;
    // server.tls.client_ca_file: PEM CA certificates. When set, clients must
    // present a certificate signed by one of them (mTLS).
    std::string client_ca_file;

    bool enabled() const { return !cert_file.empty(); }
  } tls;

  // limits: what one request or one peer may ask for. A peer is a client IP
  // address (every unix-socket client counts as one peer).
  struct Limits {
    // limits.max_attributes: attributes of one event; 0..1000000.
    uint32_t max_attributes = 64;
    // limits.max_attribute_key_bytes / max_attribute_value_bytes: length of
    // one attribute key / value, in events and in filters; 1B..64MiB.
    uint64_t max_attribute_key_bytes = 256;
    uint64_t max_attribute_value_bytes = 4096;
    // limits.max_filter_size: event types plus attributes in one Subscribe
    // filter; 0..1000000.
    uint32_t max_filter_size = 32;
    // limits.max_subscribers_per_peer: subscriptions one peer may hold at
    // once; 1..1000000.
    uint32_t max_subscribers_per_peer = 1000;
    // limits.publish_rate_per_peer: events per second one peer may publish,
    // on average; 0 = unlimited; 0..1000000000.
    uint32_t publish_rate_per_peer = 100000;
    // limits.publish_burst_per_peer: events a peer may publish at once above
    // the rate (the token bucket's size); 1..1000000000.
    uint32_t publish_burst_per_peer = 100000;
  } limits;

  // auth: who may publish and subscribe. With no token and no subject, every
  // client that can connect may do both.
  struct Auth {
    // auth.tokens_file: lines "TOKEN GRANTS [NAME]" (see authorizer.h).
    std::string tokens_file;
    // auth.subjects: client certificate common name -> grants (needs
    // server.tls.client_ca_file).
    std::map<std::string, Grants> subjects;
    // EVENTBUS_AUTH_TOKENS, environment only: "TOKEN GRANTS [NAME]" entries
    // separated by ';'. A secret: never logged nor shown.
    std::string tokens;

    bool enabled() const {
      return !tokens_file.empty() || !subjects.empty() || !tokens.empty();
    }
  } auth;
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

// Reads the whole file `path` that the setting `key` names (TLS files, the
// tokens file). Error: InvalidArgument "KEY: cannot read PATH: REASON".
absl::StatusOr<std::string> ReadSettingFile(std::string_view key,
                                            const std::string& path);

// Whether clients on other hosts cannot reach `address`: a unix socket, the
// name localhost, an IPv4 address in 127.0.0.0/8, or [::1] (IPv4-mapped
// loopback included). Anything else, names included, may be reachable.
bool IsLoopbackAddress(std::string_view address);

// Usage text for --help listing every flag, the env variables and the config
// keys, with their defaults.
std::string UsageText();

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_H_

// The one place yaml-cpp is included: every exception it can throw is caught
// here and turned into an InvalidArgument status naming the file and line.

#include "server/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/status_macros.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace eventbus {
namespace {

constexpr uint64_t kMaxSubscribers = 1000000;
constexpr uint64_t kMaxCapacity = 16777216;
constexpr uint64_t kMinEventBytes = 64;
constexpr uint64_t kMaxEventBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxPort = 65535;
constexpr uint64_t kMaxAttributes = 1000000;
// Bearer tokens from the environment: no key, no flag (see config.h).
constexpr char kTokensEnv[] = "EVENTBUS_AUTH_TOKENS";
constexpr uint64_t kMaxAttributeBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxFilterSize = 1000000;
constexpr uint64_t kMaxPublishRate = 1000000000;
constexpr std::array<absl::string_view, 5> kLogLevels = {
    "trace", "debug", "info", "warn", "error"};

// Abseil here has its own string_view; the public interface uses std's.
absl::string_view View(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// Value text quoted the way messages show it: "many".
std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

// --- Value syntax. Each parser fails with the reason only; callers add where
// the value came from (file:line: key, environment VAR: key, or --flag).

absl::Status OutOfRange(uint64_t min, uint64_t max, absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrFormat("must be between %d and %d, got %s", min, max, text));
}

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// A decimal integer in [min, max]. Signs, fractions and other bases are
// rejected; a number too large for uint64_t is out of range.
absl::StatusOr<uint64_t> ParseInteger(absl::string_view text, uint64_t min,
                                      uint64_t max) {
  if (!text.empty() && text[0] == '-' && AllDigits(text.substr(1))) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a non-negative integer, got ", Quoted(text)));
  }
  if (!AllDigits(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an integer, got ", Quoted(text)));
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return OutOfRange(min, max, text);
  }
  return value;
}

// Integer bytes, optionally followed by B, KiB or MiB ("512KiB", "1 MiB").
absl::StatusOr<uint64_t> ParseSize(absl::string_view text, uint64_t min,
                                   uint64_t max) {
  size_t digits = 0;
  while (digits < text.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  const absl::string_view suffix =
      absl::StripLeadingAsciiWhitespace(text.substr(digits));
  uint64_t multiplier = 0;
  if (suffix.empty() || suffix == "B") {
    multiplier = 1;
  } else if (suffix == "KiB") {
    multiplier = uint64_t{1} << 10;
  } else if (suffix == "MiB") {
    multiplier = uint64_t{1} << 20;
  }
  if (digits == 0 || multiplier == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a size in bytes like 1048576, \"512KiB\" or \"1MiB\", got ",
        Quoted(text)));
  }
  uint64_t count = 0;
  if (!absl::SimpleAtoi(text.substr(0, digits), &count) ||
      count > max / multiplier || count * multiplier < min) {
    return OutOfRange(min, max, text);
  }
  return count * multiplier;
}

// "1MiB" for 1048576, "512KiB" for 524288, "100B" for 100.
std::string FormatSize(uint64_t bytes) {
  if (bytes != 0 && bytes % (uint64_t{1} << 20) == 0) {
    return absl::StrCat(bytes >> 20, "MiB");
  }
  if (bytes != 0 && bytes % (uint64_t{1} << 10) == 0) {
    return absl::StrCat(bytes >> 10, "KiB");
  }
  return absl::StrCat(bytes, "B");
}

// A duration in [min, max]; `range` is how messages show it ("0s and 1h").
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text,
                                             absl::Duration min,
                                             absl::Duration max,
                                             absl::string_view range) {
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a duration like \"5s\", \"500ms\" or \"1m\", got ",
        Quoted(text)));
  }
  if (duration < min || duration > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be between ", range, ", got ", text));
  }
  return duration;
}

// A host name or IPv4 address: letters, digits, '-', '_' and '.'.
bool IsHostName(absl::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

// An IPv6 address as written between brackets, with an optional %zone.
bool IsIpv6(absl::string_view host) {
  const size_t percent = host.find('%');
  if (percent != absl::string_view::npos && percent + 1 == host.size()) {
    return false;
  }
  const std::string address(host.substr(0, percent));
  in6_addr parsed;
  return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
}

// host:port, [IPv6]:port or unix:PATH.
absl::Status ValidateAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:")) {
    if (address.size() == 5) {
      return absl::InvalidArgumentError(
          absl::StrCat("unix: needs a socket path, got ", Quoted(address)));
    }
    return absl::OkStatus();
  }
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos ||
        address.substr(close + 1, 1) != ":") {
      return absl::InvalidArgumentError(
          absl::StrCat("expected [IPv6]:port, got ", Quoted(address)));
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    if (!IsIpv6(host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid IPv6 address ", Quoted(host), " in ", Quoted(address)));
    }
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected host:port or unix:PATH, got ", Quoted(address)));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing host in ", Quoted(address),
                       " (use 0.0.0.0 or [::] for all interfaces)"));
    }
    if (absl::StrContains(host, ':')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "an IPv6 address needs brackets, like \"[::1]:50051\", got ",
          Quoted(address)));
    }
    if (!IsHostName(host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid host ", Quoted(host), " in ", Quoted(address)));
    }
  }
  uint64_t port_number = 0;
  if (!AllDigits(port) || port.size() > 5 ||
      !absl::SimpleAtoi(port, &port_number) || port_number > kMaxPort) {
    return absl::InvalidArgumentError(
        absl::StrCat("port must be a number between 0 and 65535, got ",
                     Quoted(port), " in ", Quoted(address)));
  }
  return absl::OkStatus();
}

// The host part of a valid host:port or [IPv6]:port address (without the
// brackets); nullopt for unix:PATH.
std::optional<absl::string_view> HostOf(absl::string_view address) {
  if (absl::StartsWith(address, "unix:")) return std::nullopt;
  if (absl::StartsWith(address, "[")) {
    return address.substr(1, address.find(']') - 1);
  }
  return address.substr(0, address.rfind(':'));
}

// --- The settings: one row per key, shared by the file, the environment,
// the flags and the usage text.

absl::Status SetAddress(absl::string_view text, Config* config) {
  EVENTBUS_RETURN_IF_ERROR(ValidateAddress(text));
  config->address = std::string(text);
  return absl::OkStatus();
}

absl::Status SetDrainTimeout(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(
      config->drain_timeout,
      ParseDuration(text, absl::ZeroDuration(), absl::Hours(1), "0s and 1h"));
  return absl::OkStatus();
}

absl::Status SetKeepaliveTime(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(
      config->keepalive_time,
      ParseDuration(text, absl::Seconds(1), absl::Hours(24), "1s and 24h"));
  return absl::OkStatus();
}

absl::Status SetKeepaliveTimeout(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(
      config->keepalive_timeout,
      ParseDuration(text, absl::Seconds(1), absl::Hours(1), "1s and 1h"));
  return absl::OkStatus();
}

// A file path: any non-empty text (the file is read when the daemon starts).
absl::StatusOr<std::string> ParsePath(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError(
        "expected a file path, got \"\" (leave the key out for none)");
  }
  return std::string(text);
}

absl::Status SetTlsCertFile(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->tls.cert_file, ParsePath(text));
  return absl::OkStatus();
}

absl::Status SetTlsKeyFile(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->tls.key_file, ParsePath(text));
  return absl::OkStatus();
}

absl::Status SetTlsClientCaFile(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->tls.client_ca_file, ParsePath(text));
  return absl::OkStatus();
}

// A 32-bit limit in [min, max].
absl::Status SetLimit(absl::string_view text, uint64_t min, uint64_t max,
                      uint32_t* limit) {
  EVENTBUS_ASSIGN_OR_RETURN(const uint64_t value, ParseInteger(text, min, max));
  *limit = static_cast<uint32_t>(value);
  return absl::OkStatus();
}

absl::Status SetMaxAttributes(absl::string_view text, Config* config) {
  return SetLimit(text, 0, kMaxAttributes, &config->limits.max_attributes);
}

absl::Status SetMaxAttributeKeyBytes(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->limits.max_attribute_key_bytes,
                            ParseSize(text, 1, kMaxAttributeBytes));
  return absl::OkStatus();
}

absl::Status SetMaxAttributeValueBytes(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->limits.max_attribute_value_bytes,
                            ParseSize(text, 1, kMaxAttributeBytes));
  return absl::OkStatus();
}

absl::Status SetMaxFilterSize(absl::string_view text, Config* config) {
  return SetLimit(text, 0, kMaxFilterSize, &config->limits.max_filter_size);
}

absl::Status SetMaxSubscribersPerPeer(absl::string_view text, Config* config) {
  return SetLimit(text, 1, kMaxSubscribers,
                  &config->limits.max_subscribers_per_peer);
}

absl::Status SetPublishRatePerPeer(absl::string_view text, Config* config) {
  return SetLimit(text, 0, kMaxPublishRate,
                  &config->limits.publish_rate_per_peer);
}

absl::Status SetPublishBurstPerPeer(absl::string_view text, Config* config) {
  return SetLimit(text, 1, kMaxPublishRate,
                  &config->limits.publish_burst_per_peer);
}

absl::Status SetAuthTokensFile(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->auth.tokens_file, ParsePath(text));
  return absl::OkStatus();
}

// One auth.subjects entry: a certificate common name and its grants.
absl::Status AddSubject(absl::string_view name, absl::string_view grants,
                        Config* config) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        "expected a certificate common name, got \"\"");
  }
  absl::StatusOr<Grants> parsed =
      ParseGrants(std::string_view(grants.data(), grants.size()));
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quoted(name), ": ", parsed.status().message()));
  }
  if (!config->auth.subjects.emplace(std::string(name), *parsed).second) {
    return absl::InvalidArgumentError(
        absl::StrCat("duplicate subject ", Quoted(name)));
  }
  return absl::OkStatus();
}

void ClearSubjects(Config* config) { config->auth.subjects.clear(); }

// "CN=GRANTS;CN=GRANTS", the form of the environment and the flag (and of a
// scalar in YAML). Blanks around the parts are ignored; "" is no subject.
absl::Status SetAuthSubjects(absl::string_view text, Config* config) {
  Config updated = *config;
  ClearSubjects(&updated);
  for (absl::string_view entry : absl::StrSplit(text, ';')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) continue;
    const size_t equals = entry.rfind('=');
    if (equals == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected entries CN=GRANTS separated by ';', got ", Quoted(entry)));
    }
    EVENTBUS_RETURN_IF_ERROR(AddSubject(
        absl::StripAsciiWhitespace(entry.substr(0, equals)),
        absl::StripAsciiWhitespace(entry.substr(equals + 1)), &updated));
  }
  config->auth.subjects = std::move(updated.auth.subjects);
  return absl::OkStatus();
}

std::string ShowSubjects(const Config& config) {
  std::vector<std::string> entries;
  for (const auto& [name, grants] : config.auth.subjects) {
    entries.push_back(absl::StrCat(name, "=", FormatGrants(grants)));
  }
  return absl::StrJoin(entries, ";");
}

absl::Status SetMaxSubscribers(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(const uint64_t value,
                            ParseInteger(text, 1, kMaxSubscribers));
  config->max_subscribers = static_cast<uint32_t>(value);
  return absl::OkStatus();
}

absl::Status SetCapacity(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->capacity,
                            ParseInteger(text, 1, kMaxCapacity));
  return absl::OkStatus();
}

absl::Status SetMaxEventBytes(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->max_event_bytes,
                            ParseSize(text, kMinEventBytes, kMaxEventBytes));
  return absl::OkStatus();
}

absl::Status SetLogLevel(absl::string_view text, Config* config) {
  if (std::find(kLogLevels.begin(), kLogLevels.end(), text) ==
      kLogLevels.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "must be trace, debug, info, warn or error, got ", Quoted(text)));
  }
  config->log_level = std::string(text);
  return absl::OkStatus();
}

struct Setting {
  absl::string_view section;   // "bus", or "server.tls" for a nested one
  absl::string_view name;      // "capacity"
  absl::string_view key;       // "bus.capacity"
  absl::string_view env;       // "EVENTBUS_BUS_CAPACITY"
  absl::string_view flag;      // "--capacity"
  absl::string_view metavar;   // "N", for the usage text
  absl::string_view expected;  // "an integer", as in "expected X, got a map"
  absl::string_view help;      // one line for the usage text
  absl::Status (*set)(absl::string_view text, Config* config);
  std::string (*show)(const Config& config);  // the value, as `set` reads it
  // For a setting that is a map in YAML (auth.subjects): empties it, then
  // adds one entry. Null for the others.
  void (*clear_entries)(Config* config) = nullptr;
  absl::Status (*add_entry)(absl::string_view name, absl::string_view value,
                            Config* config) = nullptr;
};

// Sections in the order the usage text lists them; "server.tls" is the map
// `tls` inside `server`.
constexpr std::array<absl::string_view, 6> kSections = {
    "server", "server.tls", "bus", "limits", "auth", "log"};

bool IsSection(absl::string_view section) {
  return std::find(kSections.begin(), kSections.end(), section) !=
         kSections.end();
}

// "server, bus, limits, auth, log": the sections at the top of the file.
std::string TopLevelSections() {
  std::vector<absl::string_view> names;
  for (absl::string_view section : kSections) {
    if (!absl::StrContains(section, '.')) names.push_back(section);
  }
  return absl::StrJoin(names, ", ");
}

std::string ShowDuration(absl::Duration duration) {
  return absl::FormatDuration(duration);
}

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> kSettings = {
      {"server", "address", "server.address", "EVENTBUS_SERVER_ADDRESS",
       "--address", "ADDR", "a string",
       "listen on host:port, [IPv6]:port or unix:PATH (port 0 picks a free "
       "port)",
       &SetAddress, [](const Config& c) { return c.address; }},
      {"server", "drain_timeout", "server.drain_timeout",
       "EVENTBUS_SERVER_DRAIN_TIMEOUT", "--drain-timeout", "DUR", "a duration",
       "on shutdown, wait this long for subscribers to drain (0s..1h)",
       &SetDrainTimeout,
       [](const Config& c) { return ShowDuration(c.drain_timeout); }},
      {"server", "max_subscribers", "server.max_subscribers",
       "EVENTBUS_SERVER_MAX_SUBSCRIBERS", "--max-subscribers", "N",
       "an integer", "most concurrent subscriptions (1..1000000)",
       &SetMaxSubscribers,
       [](const Config& c) { return absl::StrCat(c.max_subscribers); }},
      {"server", "keepalive_time", "server.keepalive_time",
       "EVENTBUS_SERVER_KEEPALIVE_TIME", "--keepalive-time", "DUR",
       "a duration", "ping a connection quiet for this long (1s..24h)",
       &SetKeepaliveTime,
       [](const Config& c) { return ShowDuration(c.keepalive_time); }},
      {"server", "keepalive_timeout", "server.keepalive_timeout",
       "EVENTBUS_SERVER_KEEPALIVE_TIMEOUT", "--keepalive-timeout", "DUR",
       "a duration",
       "close a connection whose ping is unanswered this long (1s..1h)",
       &SetKeepaliveTimeout,
       [](const Config& c) { return ShowDuration(c.keepalive_timeout); }},
      {"server.tls", "cert_file", "server.tls.cert_file",
       "EVENTBUS_SERVER_TLS_CERT_FILE", "--tls-cert-file", "FILE", "a string",
       "serve TLS with this PEM certificate chain (needs the key file)",
       &SetTlsCertFile, [](const Config& c) { return c.tls.cert_file; }},
      {"server.tls", "key_file", "server.tls.key_file",
       "EVENTBUS_SERVER_TLS_KEY_FILE", "--tls-key-file", "FILE", "a string",
       "PEM private key of the TLS certificate", &SetTlsKeyFile,
       [](const Config& c) { return c.tls.key_file; }},
      {"server.tls", "client_ca_file", "server.tls.client_ca_file",
       "EVENTBUS_SERVER_TLS_CLIENT_CA_FILE", "--tls-client-ca-file", "FILE",
       "a string", "require client certificates signed by these PEM CAs (mTLS)",
       &SetTlsClientCaFile,
       [](const Config& c) { return c.tls.client_ca_file; }},
      {"bus", "capacity", "bus.capacity", "EVENTBUS_BUS_CAPACITY", "--capacity",
       "N", "an integer",
       "events kept in the ring before the oldest is overwritten "
       "(1..16777216)",
       &SetCapacity, [](const Config& c) { return absl::StrCat(c.capacity); }},
      {"bus", "max_event_bytes", "bus.max_event_bytes",
       "EVENTBUS_BUS_MAX_EVENT_BYTES", "--max-event-bytes", "SIZE", "a size",
       "largest accepted event, in bytes or with B, KiB, MiB (64B..64MiB)",
       &SetMaxEventBytes,
       [](const Config& c) { return FormatSize(c.max_event_bytes); }},
      {"limits", "max_attributes", "limits.max_attributes",
       "EVENTBUS_LIMITS_MAX_ATTRIBUTES", "--max-attributes", "N", "an integer",
       "most attributes on one event (0..1000000)", &SetMaxAttributes,
       [](const Config& c) { return absl::StrCat(c.limits.max_attributes); }},
      {"limits", "max_attribute_key_bytes", "limits.max_attribute_key_bytes",
       "EVENTBUS_LIMITS_MAX_ATTRIBUTE_KEY_BYTES", "--max-attribute-key-bytes",
       "SIZE", "a size",
       "longest attribute key, in events and filters (1B..64MiB)",
       &SetMaxAttributeKeyBytes,
       [](const Config& c) {
         return FormatSize(c.limits.max_attribute_key_bytes);
       }},
      {"limits", "max_attribute_value_bytes",
       "limits.max_attribute_value_bytes",
       "EVENTBUS_LIMITS_MAX_ATTRIBUTE_VALUE_BYTES",
       "--max-attribute-value-bytes", "SIZE", "a size",
       "longest attribute value, in events and filters (1B..64MiB)",
       &SetMaxAttributeValueBytes,
       [](const Config& c) {
         return FormatSize(c.limits.max_attribute_value_bytes);
       }},
      {"limits", "max_filter_size", "limits.max_filter_size",
       "EVENTBUS_LIMITS_MAX_FILTER_SIZE", "--max-filter-size", "N",
       "an integer",
       "most event types plus attributes in one Subscribe filter "
       "(0..1000000)",
       &SetMaxFilterSize,
       [](const Config& c) { return absl::StrCat(c.limits.max_filter_size); }},
      {"limits", "max_subscribers_per_peer", "limits.max_subscribers_per_peer",
       "EVENTBUS_LIMITS_MAX_SUBSCRIBERS_PER_PEER", "--max-subscribers-per-peer",
       "N", "an integer",
       "most subscriptions one client address holds at once (1..1000000)",
       &SetMaxSubscribersPerPeer,
       [](const Config& c) {
         return absl::StrCat(c.limits.max_subscribers_per_peer);
       }},
      {"limits", "publish_rate_per_peer", "limits.publish_rate_per_peer",
       "EVENTBUS_LIMITS_PUBLISH_RATE_PER_PEER", "--publish-rate-per-peer", "N",
       "an integer",
       "events per second one client address may publish; 0: unlimited "
       "(0..1000000000)",
       &SetPublishRatePerPeer,
       [](const Config& c) {
         return absl::StrCat(c.limits.publish_rate_per_peer);
       }},
      {"limits", "publish_burst_per_peer", "limits.publish_burst_per_peer",
       "EVENTBUS_LIMITS_PUBLISH_BURST_PER_PEER", "--publish-burst-per-peer",
       "N", "an integer",
       "events one client address may publish at once above the rate "
       "(1..1000000000)",
       &SetPublishBurstPerPeer,
       [](const Config& c) {
         return absl::StrCat(c.limits.publish_burst_per_peer);
       }},
      {"auth", "tokens_file", "auth.tokens_file", "EVENTBUS_AUTH_TOKENS_FILE",
       "--auth-tokens-file", "FILE", "a string",
       "bearer tokens, one \"TOKEN GRANTS [NAME]\" per line",
       &SetAuthTokensFile, [](const Config& c) { return c.auth.tokens_file; }},
      {"auth", "subjects", "auth.subjects", "EVENTBUS_AUTH_SUBJECTS",
       "--auth-subjects", "CN=GRANTS;...", "a map of certificate subjects",
       "grants of client certificate common names (needs mTLS)",
       &SetAuthSubjects, &ShowSubjects, &ClearSubjects, &AddSubject},
      {"log", "level", "log.level", "EVENTBUS_LOG_LEVEL", "--log-level",
       "LEVEL", "a string",
       "least severe messages logged: trace, debug, info, warn or error",
       &SetLogLevel, [](const Config& c) { return c.log_level; }},
  };
  return kSettings;
}

const Setting* FindSetting(absl::string_view section, absl::string_view name) {
  for (const Setting& setting : Settings()) {
    if (setting.section == section && setting.name == name) return &setting;
  }
  return nullptr;
}

const Setting* FindFlag(absl::string_view flag) {
  for (const Setting& setting : Settings()) {
    if (setting.flag == flag) return &setting;
  }
  return nullptr;
}

// Optimal string alignment distance: edits, counting a swap of two adjacent
// characters as one.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The last component of a section: "tls" for "server.tls".
absl::string_view LastComponent(absl::string_view section) {
  const size_t dot = section.rfind('.');
  return dot == absl::string_view::npos ? section : section.substr(dot + 1);
}

// The section holding `section`: "server" for "server.tls", "" at the top.
absl::string_view ParentOf(absl::string_view section) {
  const size_t dot = section.rfind('.');
  return dot == absl::string_view::npos ? "" : section.substr(0, dot);
}

// " (did you mean server.address?)" for a near miss, otherwise "".
// `section` is empty for a top-level key.
std::string Suggestion(absl::string_view section, absl::string_view name) {
  if (section == "auth" && name == "tokens") {
    return absl::StrCat(" (tokens come from auth.tokens_file or ", kTokensEnv,
                        ", not from the config file)");
  }
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  auto consider = [&](absl::string_view candidate, std::string shown) {
    const size_t distance = EditDistance(name, candidate);
    const size_t longest = std::max(name.size(), candidate.size());
    if (distance < best_distance &&
        (distance <= 1 || 3 * distance <= longest)) {
      best_distance = distance;
      best = std::move(shown);
    }
  };
  for (absl::string_view known : kSections) {
    if (ParentOf(known) == section) {
      consider(LastComponent(known), std::string(known));
    }
  }
  for (const Setting& setting : Settings()) {
    if (setting.section == section) {
      consider(setting.name, std::string(setting.key));
    }
  }
  // A key written in the wrong place: `capacity` at the top or under server,
  // `tls` at the top.
  if (best.empty()) {
    for (const Setting& setting : Settings()) {
      if (setting.name == name) best = std::string(setting.key);
    }
    for (absl::string_view known : kSections) {
      if (known != section && LastComponent(known) == name) {
        best = std::string(known);
      }
    }
  }
  return best.empty() ? "" : absl::StrCat(" (did you mean ", best, "?)");
}

// --- YAML.

// "eventbus.yaml:7", or just the source when yaml-cpp has no position.
std::string Where(absl::string_view source, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return std::string(source);
  return absl::StrCat(source, ":", mark.line + 1);
}

absl::Status ErrorAt(absl::string_view source, const YAML::Mark& mark,
                     absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(Where(source, mark), ": ", message));
}

// What a node is, for "expected X, got Y".
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return absl::StrCat("a scalar ", Quoted(node.Scalar()));
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// Checks that `key` is a string that appears once in its map. `parent` is the
// section the map belongs to ("" at the top); `lines` maps the keys seen so far
// in that map to their lines.
absl::Status CheckKey(absl::string_view source, const YAML::Node& key,
                      absl::string_view parent,
                      std::map<std::string, int>* lines) {
  if (!key.IsScalar()) {
    return ErrorAt(
        source, key.Mark(),
        absl::StrCat(parent.empty() ? "" : absl::StrCat(parent, ": "),
                     "expected a key name, got ", Describe(key)));
  }
  const std::string path =
      parent.empty() ? key.Scalar() : absl::StrCat(parent, ".", key.Scalar());
  const auto [it, inserted] = lines->emplace(key.Scalar(), key.Mark().line + 1);
  if (!inserted) {
    return ErrorAt(
        source, key.Mark(),
        absl::StrCat(path, ": duplicate key (first at line ", it->second, ")"));
  }
  return absl::OkStatus();
}

// Applies a map-valued setting (auth.subjects) written as a YAML map: the
// entries replace the ones `config` had. Errors point at the entry's line.
absl::Status ApplyEntries(absl::string_view source, const Setting& setting,
                          const YAML::Node& map, Config* config) {
  setting.clear_entries(config);
  std::map<std::string, int> lines;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    EVENTBUS_RETURN_IF_ERROR(CheckKey(source, key, setting.key, &lines));
    if (!value.IsScalar()) {
      return ErrorAt(
          source, key.Mark(),
          absl::StrCat(setting.key, ": ", Quoted(key.Scalar()),
                       ": expected grants like publish,subscribe, got ",
                       Describe(value)));
    }
    const absl::Status status =
        setting.add_entry(key.Scalar(), value.Scalar(), config);
    if (!status.ok()) {
      return ErrorAt(source, key.Mark(),
                     absl::StrCat(setting.key, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

// Applies the keys of `map`, the contents of `section` ("" for the top of
// the document, "server.tls" for a nested section).
absl::Status ApplySection(absl::string_view source, absl::string_view section,
                          const YAML::Node& map, Config* config) {
  std::map<std::string, int> lines;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    EVENTBUS_RETURN_IF_ERROR(CheckKey(source, key, section, &lines));
    const std::string& name = key.Scalar();
    const std::string path =
        section.empty() ? name : absl::StrCat(section, ".", name);
    const Setting* setting =
        section.empty() ? nullptr : FindSetting(section, name);
    if (setting == nullptr && IsSection(path)) {
      // A section whose keys are all commented out is empty, not an error.
      if (value.IsNull()) continue;
      if (!value.IsMap()) {
        return ErrorAt(
            source, key.Mark(),
            absl::StrCat(path, ": expected a map, got ", Describe(value)));
      }
      EVENTBUS_RETURN_IF_ERROR(ApplySection(source, path, value, config));
      continue;
    }
    if (setting == nullptr) {
      return ErrorAt(
          source, key.Mark(),
          absl::StrCat(path, ": unknown key", Suggestion(section, name)));
    }
    if (value.IsMap() && setting->add_entry != nullptr) {
      EVENTBUS_RETURN_IF_ERROR(ApplyEntries(source, *setting, value, config));
      continue;
    }
    if (!value.IsScalar()) {
      return ErrorAt(source, key.Mark(),
                     absl::StrCat(path, ": expected ", setting->expected,
                                  ", got ", Describe(value)));
    }
    const absl::Status status = setting->set(value.Scalar(), config);
    if (!status.ok()) {
      return ErrorAt(source, key.Mark(),
                     absl::StrCat(path, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyDocument(absl::string_view source, const YAML::Node& root,
                           Config* config) {
  if (root.IsNull()) return absl::OkStatus();  // empty, or only comments
  if (!root.IsMap()) {
    return ErrorAt(source, root.Mark(),
                   absl::StrCat("expected a map with the sections ",
                                TopLevelSections(), ", got ", Describe(root)));
  }
  return ApplySection(source, "", root, config);
}

// Reads a whole file; the error is the reason only ("No such file or
// directory").
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const auto fail = [](int error) {
    return absl::InvalidArgumentError(
        std::error_code(error, std::generic_category()).message());
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) return fail(errno);
  std::string contents;
  char buffer[8192];
  size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    contents.append(buffer, count);
  }
  if (std::ferror(file.get())) return fail(errno);
  return contents;
}

// Where each document of a YAML stream starts and where its root node is,
// from the parser's events alone.
class DocumentMarks final : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;
    std::optional<YAML::Mark> root;
  };
  std::vector<Document> documents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    documents.push_back({mark, std::nullopt});
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&,
                       YAML::anchor_t, YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnMapEnd() override {}

 private:
  void Node(const YAML::Mark& mark) {
    if (!documents.empty() && !documents.back().root) {
      documents.back().root = mark;
    }
  }
};

// The number of documents in `text`, 0 or 1; more is an error. yaml-cpp 0.7's
// LoadAll() never returns on a stray flow indicator such as "," outside a
// flow collection (found by fuzz/config_fuzzer; jbeder/yaml-cpp#1040, fixed
// upstream by #1319): the parser reports an empty document without consuming
// the token, again and again, allocating each time. So the documents are
// counted here, a few at most, and one that starts where the previous one did
// is malformed YAML. Throws what yaml-cpp throws.
absl::StatusOr<size_t> CountDocuments(absl::string_view source,
                                      const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentMarks marks;
  const auto& documents = marks.documents;
  while (documents.size() < 3 && parser.HandleNextDocument(marks)) {
    const size_t n = documents.size();
    if (n >= 2 && documents[n - 1].start.pos == documents[n - 2].start.pos) {
      const YAML::Mark& mark = documents[n - 1].start;
      const size_t pos = static_cast<size_t>(std::max(mark.pos, 0));
      return ErrorAt(source, mark,
                     absl::StrCat("malformed YAML: unexpected ",
                                  Quoted(absl::string_view(text).substr(
                                      std::min(pos, text.size()), 1))));
    }
  }
  if (documents.size() > 1) {
    return ErrorAt(source, documents[1].root.value_or(documents[1].start),
                   "expected one YAML document, found a second one");
  }
  return documents.size();
}

}  // namespace

absl::StatusOr<Config> ParseConfigYaml(std::string_view text,
                                       std::string_view source, Config base) {
  const absl::string_view name = View(source);
  try {
    const std::string input(text);
    EVENTBUS_ASSIGN_OR_RETURN(const size_t documents,
                              CountDocuments(name, input));
    if (documents == 0) return base;
    EVENTBUS_RETURN_IF_ERROR(ApplyDocument(name, YAML::Load(input), &base));
  } catch (const YAML::ParserException& e) {
    return ErrorAt(name, e.mark, absl::StrCat("malformed YAML: ", e.msg));
  } catch (const YAML::Exception& e) {
    // Not expected once parsing succeeded: node access is checked above.
    return ErrorAt(name, e.mark, absl::StrCat("invalid YAML: ", e.msg));
  }
  return base;
}

absl::StatusOr<Grants> ParseGrants(std::string_view text) {
  Grants grants;
  bool valid = !text.empty();
  for (absl::string_view right : absl::StrSplit(View(text), ',')) {
    right = absl::StripAsciiWhitespace(right);
    bool* granted = right == "publish"     ? &grants.publish
                    : right == "subscribe" ? &grants.subscribe
                                           : nullptr;
    if (granted == nullptr || *granted) {
      valid = false;
      break;
    }
    *granted = true;
  }
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grants must be publish, subscribe or publish,subscribe, got ",
        Quoted(View(text))));
  }
  return grants;
}

std::string FormatGrants(Grants grants) {
  if (grants.publish && grants.subscribe) return "publish,subscribe";
  if (grants.publish) return "publish";
  if (grants.subscribe) return "subscribe";
  return "none";
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path, Config base) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read config file ", path, ": ", text.status().message()));
  }
  return ParseConfigYaml(*text, path, std::move(base));
}

absl::StatusOr<std::string> ReadSettingFile(std::string_view key,
                                            const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        View(key), ": cannot read ", path, ": ", text.status().message()));
  }
  return text;
}

absl::Status ValidateConfig(const Config& config) {
  const Config::Tls& tls = config.tls;
  if (tls.cert_file.empty() && !tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "server.tls.key_file is set but server.tls.cert_file is not: TLS "
        "needs both");
  }
  if (!tls.cert_file.empty() && tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "server.tls.cert_file is set but server.tls.key_file is not: TLS "
        "needs both");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "server.tls.client_ca_file needs server.tls.cert_file and "
        "server.tls.key_file: client certificates are checked over TLS");
  }
  if (!config.auth.subjects.empty() && tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "auth.subjects needs server.tls.client_ca_file: without client "
        "certificates there is no subject to grant rights to");
  }
  return absl::OkStatus();
}

bool IsLoopbackAddress(std::string_view address) {
  const std::optional<absl::string_view> host = HostOf(View(address));
  if (!host.has_value()) return true;  // unix:PATH
  if (absl::EqualsIgnoreCase(*host, "localhost")) return true;
  const std::string text(host->substr(0, host->find('%')));
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) ||
           (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

absl::Status ApplyEnvironment(
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    Config* config) {
  if (!getenv) return absl::OkStatus();
  Config updated = *config;
  for (const Setting& setting : Settings()) {
    const std::optional<std::string> value = getenv(std::string(setting.env));
    if (!value.has_value()) continue;
    absl::Status status = value->empty()
                              ? absl::InvalidArgumentError("set but empty")
                              : setting.set(*value, &updated);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment ", setting.env, ": ", setting.key, ": ",
                       status.message()));
    }
  }
  if (std::optional<std::string> tokens = getenv(kTokensEnv)) {
    // Checked when the daemon parses the tokens; the value is a secret, so
    // no message here quotes it.
    if (absl::StripAsciiWhitespace(*tokens).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment ", kTokensEnv, ": set but empty"));
    }
    updated.auth.tokens = std::move(*tokens);
  }
  *config = std::move(updated);
  return absl::OkStatus();
}

absl::StatusOr<Invocation> ParseInvocation(
    int argc, const char* const* argv,
    const std::function<std::optional<std::string>(const std::string&)>&
        getenv) {
  Invocation invocation;
  // Flag values are applied after the file and the environment.
  std::vector<std::pair<const Setting*, std::string>> flag_values;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument ", Quoted(arg), " (see --help)"));
    }
    const size_t equals = arg.find('=');
    const absl::string_view flag = arg.substr(0, equals);
    const bool has_inline_value = equals != absl::string_view::npos;
    if (flag == "--help" || flag == "-h" || flag == "--version") {
      if (has_inline_value) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " takes no value"));
      }
      (flag == "--version" ? invocation.show_version : invocation.show_help) =
          true;
      continue;
    }
    const Setting* setting = FindFlag(flag);
    if (setting == nullptr && flag != "--config") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", flag, " (see --help)"));
    }
    absl::string_view value;
    if (has_inline_value) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      value = argv[++i];
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    }
    if (setting == nullptr) {
      invocation.config_path = std::string(value);
    } else {
      flag_values.emplace_back(setting, std::string(value));
    }
  }
  if (invocation.show_help || invocation.show_version) return invocation;

  Config config;
  if (!invocation.config_path.empty()) {
    EVENTBUS_ASSIGN_OR_RETURN(config,
                              LoadConfigFile(invocation.config_path, config));
  }
  EVENTBUS_RETURN_IF_ERROR(ApplyEnvironment(getenv, &config));
  for (const auto& [setting, value] : flag_values) {
    const absl::Status status = setting->set(value, &config);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(setting->flag, ": ", status.message()));
    }
  }
  EVENTBUS_RETURN_IF_ERROR(ValidateConfig(config));
  invocation.config = std::move(config);
  return invocation;
}

std::string UsageText() {
  const Config defaults;
  std::string text = absl::StrCat(
      "Usage: eventbusd [flags]\n"
      "\n"
      "Runs the event bus gRPC daemon. Each setting comes from, lowest\n"
      "precedence first: the built-in default, the --config file, an\n"
      "EVENTBUS_* environment variable, a flag. Flags take \"--flag value\"\n"
      "or \"--flag=value\".\n"
      "\n"
      "Flags:\n"
      "  --config FILE\n"
      "      read settings from a YAML file (example: config/eventbus.yaml)\n");
  for (const Setting& setting : Settings()) {
    const std::string shown = setting.show(defaults);
    absl::StrAppend(&text, "  ", setting.flag, " ", setting.metavar, "\n",
                    "      ", setting.help, "\n",
                    "      default: ", shown.empty() ? "none" : shown, "\n");
  }
  absl::StrAppend(
      &text,
      "  -h, --help\n"
      "      print this text and exit\n"
      "  --version\n"
      "      print the version and exit\n"
      "\n"
      "Durations look like \"500ms\", \"5s\", \"1m\" or \"1h\".\n"
      "Sizes are bytes, or a number with B, KiB or MiB: \"512KiB\".\n"
      "Grants are publish, subscribe or publish,subscribe.\n"
      "\n"
      "Environment (overrides the file; flags override it):\n");
  for (const Setting& setting : Settings()) {
    absl::StrAppend(
        &text, absl::StrFormat("  %-42s like %s\n", setting.env, setting.flag));
  }
  absl::StrAppend(&text, absl::StrFormat("  %-42s bearer tokens, \"TOKEN "
                                         "GRANTS [NAME];...\"\n",
                                         kTokensEnv));
  absl::StrAppend(&text, "\nConfig file keys (YAML), with their defaults:\n");
  absl::string_view section;
  for (const Setting& setting : Settings()) {
    if (setting.section != section) {
      // Open the components of the new section that the last one lacked.
      const std::vector<absl::string_view> from = absl::StrSplit(section, '.');
      const std::vector<absl::string_view> to =
          absl::StrSplit(setting.section, '.');
      size_t common = 0;
      while (common < from.size() && common < to.size() &&
             from[common] == to[common]) {
        ++common;
      }
      for (size_t depth = common; depth < to.size(); ++depth) {
        absl::StrAppend(&text, std::string(2 * depth + 2, ' '), to[depth],
                        ":\n");
      }
      section = setting.section;
    }
    // Keys sit one level deeper than their section's last component.
    const int indent =
        2 * static_cast<int>(std::count(section.begin(), section.end(), '.')) +
        4;
    absl::StrAppend(
        &text, absl::StrFormat(
                   "%*s%-*s like %s\n", indent, "", 44 - indent,
                   absl::StrCat(setting.name, ": ", setting.show(defaults)),
                   setting.flag));
  }
  return text;
}

}  // namespace eventbus

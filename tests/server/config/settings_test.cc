// The settings table: every name derives from its section and key name as
// settings.h documents, the table matches the documented settings one for
// one, and the --help text is unchanged.
#include "server/config/settings.h"

#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "server/config/config.h"

namespace eventbus {
namespace {

// The flag prefix settings.h documents: "lane-<priority>-" for a lane, the
// last component of another nested section, the section name of auth, log,
// metrics and storage, nothing for the others.
std::string FlagPrefixOf(absl::string_view section) {
  if (absl::ConsumePrefix(&section, "bus.lanes.")) {
    return absl::StrCat("lane-", section, "-");
  }
  const size_t dot = section.rfind('.');
  if (dot != absl::string_view::npos) {
    return absl::StrCat(section.substr(dot + 1), "-");
  }
  if (section == "auth" || section == "log" || section == "metrics" ||
      section == "storage") {
    return absl::StrCat(section, "-");
  }
  return "";
}

TEST(SettingsTest, NamesDeriveFromSectionAndName) {
  for (const Setting& setting : Settings()) {
    EXPECT_EQ(setting.key, absl::StrCat(setting.section, ".", setting.name));
    EXPECT_EQ(
        setting.env,
        absl::StrCat("EVENTBUS_", absl::AsciiStrToUpper(absl::StrReplaceAll(
                                      setting.key, {{".", "_"}}))));
    EXPECT_EQ(setting.flag,
              absl::StrCat("--", FlagPrefixOf(setting.section),
                           absl::StrReplaceAll(setting.name, {{"_", "-"}})));
    const Setting named = NamedSetting(setting.section, setting.name,
                                       FlagPrefixOf(setting.section));
    EXPECT_EQ(named.key, setting.key);
    EXPECT_EQ(named.env, setting.env);
    EXPECT_EQ(named.flag, setting.flag);
  }
}

TEST(SettingsTest, NamesAreUnique) {
  std::set<std::string> keys;
  std::set<std::string> envs;
  std::set<std::string> flags = {"--config", "--help", "-h", "--version"};
  for (const Setting& setting : Settings()) {
    EXPECT_TRUE(keys.insert(setting.key).second) << setting.key;
    EXPECT_TRUE(envs.insert(setting.env).second) << setting.env;
    EXPECT_TRUE(flags.insert(setting.flag).second) << setting.flag;
    EXPECT_NE(setting.env, kTokensEnv);
  }
}

// Every setting eventbusd has ever documented, in the order of --help:
// key, environment variable, flag, metavar, "expected X".
TEST(SettingsTest, TableHoldsTheDocumentedSettings) {
  using Row = std::tuple<std::string, std::string, std::string, std::string,
                         std::string>;
  const std::vector<Row> expected = {
      {"server.address", "EVENTBUS_SERVER_ADDRESS", "--address", "ADDR",
       "a string"},
      {"server.drain_timeout", "EVENTBUS_SERVER_DRAIN_TIMEOUT",
       "--drain-timeout", "DUR", "a duration"},
      {"server.max_subscribers", "EVENTBUS_SERVER_MAX_SUBSCRIBERS",
       "--max-subscribers", "N", "an integer"},
      {"server.keepalive_time", "EVENTBUS_SERVER_KEEPALIVE_TIME",
       "--keepalive-time", "DUR", "a duration"},
      {"server.keepalive_timeout", "EVENTBUS_SERVER_KEEPALIVE_TIMEOUT",
       "--keepalive-timeout", "DUR", "a duration"},
      {"server.max_memory", "EVENTBUS_SERVER_MAX_MEMORY", "--max-memory",
       "SIZE", "a size"},
      {"server.io_threads", "EVENTBUS_SERVER_IO_THREADS", "--io-threads", "N",
       "an integer"},
      {"server.tls.cert_file", "EVENTBUS_SERVER_TLS_CERT_FILE",
       "--tls-cert-file", "FILE", "a string"},
      {"server.tls.key_file", "EVENTBUS_SERVER_TLS_KEY_FILE", "--tls-key-file",
       "FILE", "a string"},
      {"server.tls.client_ca_file", "EVENTBUS_SERVER_TLS_CLIENT_CA_FILE",
       "--tls-client-ca-file", "FILE", "a string"},
      {"bus.capacity", "EVENTBUS_BUS_CAPACITY", "--capacity", "N",
       "an integer"},
      {"bus.max_event_bytes", "EVENTBUS_BUS_MAX_EVENT_BYTES",
       "--max-event-bytes", "SIZE", "a size"},
      {"bus.max_block", "EVENTBUS_BUS_MAX_BLOCK", "--max-block", "DUR",
       "a duration"},
      {"bus.lanes.high.capacity", "EVENTBUS_BUS_LANES_HIGH_CAPACITY",
       "--lane-high-capacity", "N", "an integer"},
      {"bus.lanes.normal.capacity", "EVENTBUS_BUS_LANES_NORMAL_CAPACITY",
       "--lane-normal-capacity", "N", "an integer"},
      {"bus.lanes.low.capacity", "EVENTBUS_BUS_LANES_LOW_CAPACITY",
       "--lane-low-capacity", "N", "an integer"},
      {"storage.path", "EVENTBUS_STORAGE_PATH", "--storage-path", "DIR",
       "a string"},
      {"storage.fsync", "EVENTBUS_STORAGE_FSYNC", "--storage-fsync", "MODE",
       "a string"},
      {"storage.segment_bytes", "EVENTBUS_STORAGE_SEGMENT_BYTES",
       "--storage-segment-bytes", "SIZE", "a size"},
      {"storage.repair", "EVENTBUS_STORAGE_REPAIR", "--storage-repair", "BOOL",
       "a boolean"},
      {"storage.retention.max_bytes", "EVENTBUS_STORAGE_RETENTION_MAX_BYTES",
       "--retention-max-bytes", "SIZE", "a size"},
      {"storage.retention.max_events", "EVENTBUS_STORAGE_RETENTION_MAX_EVENTS",
       "--retention-max-events", "N", "an integer"},
      {"storage.retention.max_age", "EVENTBUS_STORAGE_RETENTION_MAX_AGE",
       "--retention-max-age", "DUR", "a duration"},
      {"forward.nats.url", "EVENTBUS_FORWARD_NATS_URL", "--nats-url", "URLS",
       "a string"},
      {"forward.nats.subject", "EVENTBUS_FORWARD_NATS_SUBJECT",
       "--nats-subject", "SUBJECT", "a string"},
      {"forward.nats.stream", "EVENTBUS_FORWARD_NATS_STREAM", "--nats-stream",
       "NAME", "a string"},
      {"forward.nats.replicas", "EVENTBUS_FORWARD_NATS_REPLICAS",
       "--nats-replicas", "N", "an integer"},
      {"forward.nats.duplicate_window",
       "EVENTBUS_FORWARD_NATS_DUPLICATE_WINDOW", "--nats-duplicate-window",
       "DUR", "a duration"},
      {"forward.nats.token", "EVENTBUS_FORWARD_NATS_TOKEN", "--nats-token",
       "TOKEN", "a string"},
      {"forward.nats.user", "EVENTBUS_FORWARD_NATS_USER", "--nats-user", "USER",
       "a string"},
      {"forward.nats.password", "EVENTBUS_FORWARD_NATS_PASSWORD",
       "--nats-password", "PASSWORD", "a string"},
      {"forward.nats.credentials_file",
       "EVENTBUS_FORWARD_NATS_CREDENTIALS_FILE", "--nats-credentials-file",
       "FILE", "a string"},
      {"forward.nats.nkey", "EVENTBUS_FORWARD_NATS_NKEY", "--nats-nkey",
       "PUBLIC_KEY", "a string"},
      {"forward.nats.nkey_seed_file", "EVENTBUS_FORWARD_NATS_NKEY_SEED_FILE",
       "--nats-nkey-seed-file", "FILE", "a string"},
      {"forward.nats.tls_ca_file", "EVENTBUS_FORWARD_NATS_TLS_CA_FILE",
       "--nats-tls-ca-file", "FILE", "a string"},
      {"forward.nats.tls_cert_file", "EVENTBUS_FORWARD_NATS_TLS_CERT_FILE",
       "--nats-tls-cert-file", "FILE", "a string"},
      {"forward.nats.tls_key_file", "EVENTBUS_FORWARD_NATS_TLS_KEY_FILE",
       "--nats-tls-key-file", "FILE", "a string"},
      {"forward.nats.max_in_flight", "EVENTBUS_FORWARD_NATS_MAX_IN_FLIGHT",
       "--nats-max-in-flight", "N", "an integer"},
      {"forward.nats.encoding", "EVENTBUS_FORWARD_NATS_ENCODING",
       "--nats-encoding", "ENC", "a string"},
      {"forward.nats.max_backlog", "EVENTBUS_FORWARD_NATS_MAX_BACKLOG",
       "--nats-max-backlog", "N", "an integer"},
      {"limits.max_attributes", "EVENTBUS_LIMITS_MAX_ATTRIBUTES",
       "--max-attributes", "N", "an integer"},
      {"limits.max_attribute_key_bytes",
       "EVENTBUS_LIMITS_MAX_ATTRIBUTE_KEY_BYTES", "--max-attribute-key-bytes",
       "SIZE", "a size"},
      {"limits.max_attribute_value_bytes",
       "EVENTBUS_LIMITS_MAX_ATTRIBUTE_VALUE_BYTES",
       "--max-attribute-value-bytes", "SIZE", "a size"},
      {"limits.max_filter_size", "EVENTBUS_LIMITS_MAX_FILTER_SIZE",
       "--max-filter-size", "N", "an integer"},
      {"limits.max_filter_expression_bytes",
       "EVENTBUS_LIMITS_MAX_FILTER_EXPRESSION_BYTES",
       "--max-filter-expression-bytes", "SIZE", "a size"},
      {"limits.max_metadata_bytes", "EVENTBUS_LIMITS_MAX_METADATA_BYTES",
       "--max-metadata-bytes", "SIZE", "a size"},
      {"limits.max_subscribers_per_peer",
       "EVENTBUS_LIMITS_MAX_SUBSCRIBERS_PER_PEER", "--max-subscribers-per-peer",
       "N", "an integer"},
      {"limits.publish_rate_per_peer", "EVENTBUS_LIMITS_PUBLISH_RATE_PER_PEER",
       "--publish-rate-per-peer", "N", "an integer"},
      {"limits.publish_burst_per_peer",
       "EVENTBUS_LIMITS_PUBLISH_BURST_PER_PEER", "--publish-burst-per-peer",
       "N", "an integer"},
      {"auth.tokens_file", "EVENTBUS_AUTH_TOKENS_FILE", "--auth-tokens-file",
       "FILE", "a string"},
      {"auth.subjects", "EVENTBUS_AUTH_SUBJECTS", "--auth-subjects",
       "CN=GRANTS;...", "a map of certificate subjects"},
      {"metrics.address", "EVENTBUS_METRICS_ADDRESS", "--metrics-address",
       "ADDR", "a string"},
      {"metrics.max_subscriber_series",
       "EVENTBUS_METRICS_MAX_SUBSCRIBER_SERIES",
       "--metrics-max-subscriber-series", "N", "an integer"},
      {"log.level", "EVENTBUS_LOG_LEVEL", "--log-level", "LEVEL", "a string"},
      {"log.format", "EVENTBUS_LOG_FORMAT", "--log-format", "FORMAT",
       "a string"},
  };
  std::vector<Row> actual;
  for (const Setting& setting : Settings()) {
    actual.emplace_back(setting.key, setting.env, setting.flag, setting.metavar,
                        setting.expected);
  }
  EXPECT_EQ(actual, expected);
}

TEST(SettingsTest, SectionsInUsageOrder) {
  EXPECT_EQ(
      SettingSections(),
      (std::vector<std::string>{
          "server", "server.tls", "bus", "bus.lanes", "bus.lanes.high",
          "bus.lanes.normal", "bus.lanes.low", "storage", "storage.retention",
          "forward", "forward.nats", "limits", "auth", "metrics", "log"}));
  EXPECT_EQ(TopLevelSections(),
            "server, bus, storage, forward, limits, auth, metrics, log");
  EXPECT_TRUE(IsSection("server.tls"));
  EXPECT_FALSE(IsSection("tls"));
}

TEST(SettingsTest, OnlyAuthSubjectsTakesEntries) {
  for (const Setting& setting : Settings()) {
    EXPECT_EQ(setting.add_entry != nullptr, setting.key == "auth.subjects")
        << setting.key;
    EXPECT_EQ(setting.clear_entries != nullptr, setting.key == "auth.subjects")
        << setting.key;
  }
}

// Each default is shown in a form the setting reads back.
TEST(SettingsTest, DefaultsRoundTrip) {
  const Config defaults;
  for (const Setting& setting : Settings()) {
    const std::string shown = setting.show(defaults);
    if (shown.empty()) continue;  // none
    Config config;
    ASSERT_TRUE(setting.set(shown, &config).ok())
        << setting.key << ": " << shown;
    EXPECT_EQ(setting.show(config), shown) << setting.key;
  }
}

// The range a help line ends with, " (MIN..MAX)", is what the setting
// accepts, and its field holds both ends (no narrowing).
TEST(SettingsTest, HelpRangesAreAcceptedAndFitTheField) {
  int ranged = 0;
  for (const Setting& setting : Settings()) {
    if (!absl::EndsWith(setting.help, ")")) continue;
    const size_t open = setting.help.rfind(" (");
    const std::vector<std::string> bounds =
        absl::StrSplit(absl::string_view(setting.help)
                           .substr(open + 2, setting.help.size() - open - 3),
                       "..");
    if (bounds.size() != 2) continue;  // a remark, not a range
    ++ranged;
    for (const std::string& bound : bounds) {
      Config config;
      ASSERT_TRUE(setting.set(bound, &config).ok())
          << setting.key << ": " << bound;
      EXPECT_EQ(setting.show(config), bound == "0s" ? "0" : bound)
          << setting.key;
    }
    if (setting.metavar == "N") {
      uint64_t max = 0;
      ASSERT_TRUE(absl::SimpleAtoi(bounds[1], &max)) << setting.key;
      Config config;
      EXPECT_EQ(setting.set(absl::StrCat(max + 1), &config),
                absl::InvalidArgumentError(
                    absl::StrCat("must be between ", bounds[0], " and ",
                                 bounds[1], ", got ", max + 1)))
          << setting.key;
    }
  }
  EXPECT_EQ(ranged, 31);
}

TEST(SettingsTest, Suggestions) {
  EXPECT_EQ(Suggestion("server", "adress"), " (did you mean server.address?)");
  EXPECT_EQ(Suggestion("", "tls"), " (did you mean server.tls?)");
  EXPECT_EQ(Suggestion("log", "colour"), "");
}

// The --help text, byte for byte as eventbusd has always printed it.
TEST(SettingsTest, UsageTextIsUnchanged) {
  EXPECT_EQ(UsageText(), R"usage(Usage: eventbusd [flags]

Runs the event bus gRPC daemon. Each setting comes from, lowest
precedence first: the built-in default, the --config file, an
EVENTBUS_* environment variable, a flag. Flags take "--flag value"
or "--flag=value".

Flags:
  --config FILE
      read settings from a YAML file (example: config/eventbus.yaml)
  --address ADDR
      listen on host:port, [IPv6]:port or unix:PATH (port 0 picks a free port)
      default: 127.0.0.1:50051
  --drain-timeout DUR
      on shutdown, wait this long for subscribers to drain (0s..1h)
      default: 5s
  --max-subscribers N
      most concurrent subscriptions (1..1000000)
      default: 10000
  --keepalive-time DUR
      ping a connection quiet for this long (1s..24h)
      default: 1m
  --keepalive-timeout DUR
      close a connection whose ping is unanswered this long (1s..1h)
      default: 20s
  --max-memory SIZE
      most memory gRPC's connection and call buffers may hold (16MiB..64GiB)
      default: 64MiB
  --io-threads N
      Subscribe threads, one completion queue each; 0: per CPU (0..256)
      default: 0
  --tls-cert-file FILE
      serve TLS with this PEM certificate chain (needs the key file)
      default: none
  --tls-key-file FILE
      PEM private key of the TLS certificate
      default: none
  --tls-client-ca-file FILE
      require client certificates signed by these PEM CAs (mTLS)
      default: none
  --capacity N
      events kept in the ring before the oldest is overwritten (1..16777216)
      default: 1024
  --max-event-bytes SIZE
      largest accepted event, in bytes or with B, KiB, MiB (64B..64MiB)
      default: 1MiB
  --max-block DUR
      end a BLOCK subscriber that holds publishers back this long (1ms..1h)
      default: 1s
  --lane-high-capacity N
      PRIORITY_HIGH events kept in the ring; 0: bus.capacity (0..16777216)
      default: 0
  --lane-normal-capacity N
      PRIORITY_NORMAL (and unset) events kept; 0: bus.capacity (0..16777216)
      default: 0
  --lane-low-capacity N
      PRIORITY_LOW events kept in the ring; 0: bus.capacity (0..16777216)
      default: 0
  --storage-path DIR
      directory of the durable event log (empty: memory only)
      default: none
  --storage-fsync MODE
      when a publish is answered (see README): always, never or a duration (1ms..1h)
      default: always
  --storage-segment-bytes SIZE
      size at which a log segment is closed (64KiB..4GiB)
      default: 64MiB
  --storage-repair BOOL
      drop the rest of a bad closed segment instead of refusing to start: true or false
      default: false
  --retention-max-bytes SIZE
      remove the oldest closed segments above this; 0: none (0B..16384GiB)
      default: 1GiB
  --retention-max-events N
      keep about this many events at most; 0: no limit (0..1000000000000)
      default: 0
  --retention-max-age DUR
      remove closed segments older than this; 0: no limit (0s..87600h)
      default: 0
  --nats-url URLS
      forward every stored event to these NATS JetStream servers (empty: no forwarding)
      default: none
  --nats-subject SUBJECT
      subject of each forwarded event ({source} and {type} are replaced)
      default: eventbus.{source}.{type}
  --nats-stream NAME
      JetStream stream, created when missing
      default: EVENTBUS
  --nats-replicas N
      replicas of the stream when it is created (1..5)
      default: 1
  --nats-duplicate-window DUR
      the stream's duplicate window when it is created (1s..168h)
      default: 2m
  --nats-token TOKEN
      NATS token
      default: none
  --nats-user USER
      NATS user
      default: none
  --nats-password PASSWORD
      NATS password
      default: none
  --nats-credentials-file FILE
      NATS .creds file (JWT and NKey seed)
      default: none
  --nats-nkey PUBLIC_KEY
      NATS user NKey, the public key (needs the seed file)
      default: none
  --nats-nkey-seed-file FILE
      file holding the seed of forward.nats.nkey
      default: none
  --nats-tls-ca-file FILE
      PEM CAs the NATS server's certificate must chain to
      default: none
  --nats-tls-cert-file FILE
      PEM client certificate for NATS (needs the key file)
      default: none
  --nats-tls-key-file FILE
      PEM private key of the NATS client certificate
      default: none
  --nats-max-in-flight N
      events published to NATS and not yet acknowledged (1..65536)
      default: 1024
  --nats-encoding ENC
      what a forwarded message carries: proto or json
      default: proto
  --nats-max-backlog N
      let retention remove unforwarded events this far behind; 0: never (0..1000000000000)
      default: 0
  --max-attributes N
      most attributes on one event (0..1000000)
      default: 64
  --max-attribute-key-bytes SIZE
      longest attribute key, in events and filters (1B..64MiB)
      default: 256B
  --max-attribute-value-bytes SIZE
      longest attribute value, in events and filters (1B..64MiB)
      default: 4KiB
  --max-filter-size N
      most event types plus attributes in one Subscribe filter (0..1000000)
      default: 32
  --max-filter-expression-bytes SIZE
      longest filter expression of one Subscribe filter (0B..64KiB)
      default: 4KiB
  --max-metadata-bytes SIZE
      largest request metadata (headers) of one call (1KiB..1MiB)
      default: 16KiB
  --max-subscribers-per-peer N
      most subscriptions one client address holds at once (1..1000000)
      default: 1000
  --publish-rate-per-peer N
      events per second one client address may publish; 0: unlimited (0..1000000000)
      default: 100000
  --publish-burst-per-peer N
      events one client address may publish at once above the rate (1..1000000000)
      default: 100000
  --auth-tokens-file FILE
      bearer tokens, one "TOKEN GRANTS [NAME]" per line
      default: none
  --auth-subjects CN=GRANTS;...
      grants of client certificate common names (needs mTLS)
      default: none
  --metrics-address ADDR
      serve Prometheus GET /metrics and GET /healthz there (IPv4:port; empty: off)
      default: none
  --metrics-max-subscriber-series N
      named subscribers with their own behind series (0..10000)
      default: 100
  --log-level LEVEL
      least severe messages logged: trace, debug, info, warn or error
      default: info
  --log-format FORMAT
      one line per message as text, or as a JSON object: text or json
      default: text
  -h, --help
      print this text and exit
  --version
      print the version and exit

Durations look like "500ms", "5s", "1m" or "1h".
Sizes are bytes, or a number with B, KiB, MiB or GiB: "512KiB".
Grants are publish, subscribe, admin, or several joined by commas:
publish,subscribe,admin.

Environment (overrides the file; flags override it):
  EVENTBUS_SERVER_ADDRESS                     like --address
  EVENTBUS_SERVER_DRAIN_TIMEOUT               like --drain-timeout
  EVENTBUS_SERVER_MAX_SUBSCRIBERS             like --max-subscribers
  EVENTBUS_SERVER_KEEPALIVE_TIME              like --keepalive-time
  EVENTBUS_SERVER_KEEPALIVE_TIMEOUT           like --keepalive-timeout
  EVENTBUS_SERVER_MAX_MEMORY                  like --max-memory
  EVENTBUS_SERVER_IO_THREADS                  like --io-threads
  EVENTBUS_SERVER_TLS_CERT_FILE               like --tls-cert-file
  EVENTBUS_SERVER_TLS_KEY_FILE                like --tls-key-file
  EVENTBUS_SERVER_TLS_CLIENT_CA_FILE          like --tls-client-ca-file
  EVENTBUS_BUS_CAPACITY                       like --capacity
  EVENTBUS_BUS_MAX_EVENT_BYTES                like --max-event-bytes
  EVENTBUS_BUS_MAX_BLOCK                      like --max-block
  EVENTBUS_BUS_LANES_HIGH_CAPACITY            like --lane-high-capacity
  EVENTBUS_BUS_LANES_NORMAL_CAPACITY          like --lane-normal-capacity
  EVENTBUS_BUS_LANES_LOW_CAPACITY             like --lane-low-capacity
  EVENTBUS_STORAGE_PATH                       like --storage-path
  EVENTBUS_STORAGE_FSYNC                      like --storage-fsync
  EVENTBUS_STORAGE_SEGMENT_BYTES              like --storage-segment-bytes
  EVENTBUS_STORAGE_REPAIR                     like --storage-repair
  EVENTBUS_STORAGE_RETENTION_MAX_BYTES        like --retention-max-bytes
  EVENTBUS_STORAGE_RETENTION_MAX_EVENTS       like --retention-max-events
  EVENTBUS_STORAGE_RETENTION_MAX_AGE          like --retention-max-age
  EVENTBUS_FORWARD_NATS_URL                   like --nats-url
  EVENTBUS_FORWARD_NATS_SUBJECT               like --nats-subject
  EVENTBUS_FORWARD_NATS_STREAM                like --nats-stream
  EVENTBUS_FORWARD_NATS_REPLICAS              like --nats-replicas
  EVENTBUS_FORWARD_NATS_DUPLICATE_WINDOW      like --nats-duplicate-window
  EVENTBUS_FORWARD_NATS_TOKEN                 like --nats-token
  EVENTBUS_FORWARD_NATS_USER                  like --nats-user
  EVENTBUS_FORWARD_NATS_PASSWORD              like --nats-password
  EVENTBUS_FORWARD_NATS_CREDENTIALS_FILE      like --nats-credentials-file
  EVENTBUS_FORWARD_NATS_NKEY                  like --nats-nkey
  EVENTBUS_FORWARD_NATS_NKEY_SEED_FILE        like --nats-nkey-seed-file
  EVENTBUS_FORWARD_NATS_TLS_CA_FILE           like --nats-tls-ca-file
  EVENTBUS_FORWARD_NATS_TLS_CERT_FILE         like --nats-tls-cert-file
  EVENTBUS_FORWARD_NATS_TLS_KEY_FILE          like --nats-tls-key-file
  EVENTBUS_FORWARD_NATS_MAX_IN_FLIGHT         like --nats-max-in-flight
  EVENTBUS_FORWARD_NATS_ENCODING              like --nats-encoding
  EVENTBUS_FORWARD_NATS_MAX_BACKLOG           like --nats-max-backlog
  EVENTBUS_LIMITS_MAX_ATTRIBUTES              like --max-attributes
  EVENTBUS_LIMITS_MAX_ATTRIBUTE_KEY_BYTES     like --max-attribute-key-bytes
  EVENTBUS_LIMITS_MAX_ATTRIBUTE_VALUE_BYTES   like --max-attribute-value-bytes
  EVENTBUS_LIMITS_MAX_FILTER_SIZE             like --max-filter-size
  EVENTBUS_LIMITS_MAX_FILTER_EXPRESSION_BYTES like --max-filter-expression-bytes
  EVENTBUS_LIMITS_MAX_METADATA_BYTES          like --max-metadata-bytes
  EVENTBUS_LIMITS_MAX_SUBSCRIBERS_PER_PEER    like --max-subscribers-per-peer
  EVENTBUS_LIMITS_PUBLISH_RATE_PER_PEER       like --publish-rate-per-peer
  EVENTBUS_LIMITS_PUBLISH_BURST_PER_PEER      like --publish-burst-per-peer
  EVENTBUS_AUTH_TOKENS_FILE                   like --auth-tokens-file
  EVENTBUS_AUTH_SUBJECTS                      like --auth-subjects
  EVENTBUS_METRICS_ADDRESS                    like --metrics-address
  EVENTBUS_METRICS_MAX_SUBSCRIBER_SERIES      like --metrics-max-subscriber-series
  EVENTBUS_LOG_LEVEL                          like --log-level
  EVENTBUS_LOG_FORMAT                         like --log-format
  EVENTBUS_AUTH_TOKENS                        bearer tokens, "TOKEN GRANTS [NAME];..."

Config file keys (YAML), with their defaults:
  server:
    address: 127.0.0.1:50051                 like --address
    drain_timeout: 5s                        like --drain-timeout
    max_subscribers: 10000                   like --max-subscribers
    keepalive_time: 1m                       like --keepalive-time
    keepalive_timeout: 20s                   like --keepalive-timeout
    max_memory: 64MiB                        like --max-memory
    io_threads: 0                            like --io-threads
    tls:
      cert_file:                             like --tls-cert-file
      key_file:                              like --tls-key-file
      client_ca_file:                        like --tls-client-ca-file
  bus:
    capacity: 1024                           like --capacity
    max_event_bytes: 1MiB                    like --max-event-bytes
    max_block: 1s                            like --max-block
    lanes:
      high:
        capacity: 0                          like --lane-high-capacity
      normal:
        capacity: 0                          like --lane-normal-capacity
      low:
        capacity: 0                          like --lane-low-capacity
  storage:
    path:                                    like --storage-path
    fsync: always                            like --storage-fsync
    segment_bytes: 64MiB                     like --storage-segment-bytes
    repair: false                            like --storage-repair
    retention:
      max_bytes: 1GiB                        like --retention-max-bytes
      max_events: 0                          like --retention-max-events
      max_age: 0                             like --retention-max-age
  forward:
    nats:
      url:                                   like --nats-url
      subject: eventbus.{source}.{type}      like --nats-subject
      stream: EVENTBUS                       like --nats-stream
      replicas: 1                            like --nats-replicas
      duplicate_window: 2m                   like --nats-duplicate-window
      token:                                 like --nats-token
      user:                                  like --nats-user
      password:                              like --nats-password
      credentials_file:                      like --nats-credentials-file
      nkey:                                  like --nats-nkey
      nkey_seed_file:                        like --nats-nkey-seed-file
      tls_ca_file:                           like --nats-tls-ca-file
      tls_cert_file:                         like --nats-tls-cert-file
      tls_key_file:                          like --nats-tls-key-file
      max_in_flight: 1024                    like --nats-max-in-flight
      encoding: proto                        like --nats-encoding
      max_backlog: 0                         like --nats-max-backlog
  limits:
    max_attributes: 64                       like --max-attributes
    max_attribute_key_bytes: 256B            like --max-attribute-key-bytes
    max_attribute_value_bytes: 4KiB          like --max-attribute-value-bytes
    max_filter_size: 32                      like --max-filter-size
    max_filter_expression_bytes: 4KiB        like --max-filter-expression-bytes
    max_metadata_bytes: 16KiB                like --max-metadata-bytes
    max_subscribers_per_peer: 1000           like --max-subscribers-per-peer
    publish_rate_per_peer: 100000            like --publish-rate-per-peer
    publish_burst_per_peer: 100000           like --publish-burst-per-peer
  auth:
    tokens_file:                             like --auth-tokens-file
    subjects:                                like --auth-subjects
  metrics:
    address:                                 like --metrics-address
    max_subscriber_series: 100               like --metrics-max-subscriber-series
  log:
    level: info                              like --log-level
    format: text                             like --log-format
)usage");
}

}  // namespace
}  // namespace eventbus

#include "server/config/config.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config/address.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::IsOk;
using ::eventbus::testing::StatusIs;
using ::testing::HasSubstr;
using Getenv = std::function<std::optional<std::string>(const std::string&)>;

// A fake environment holding exactly `vars`.
Getenv FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Parses `text` as the file "eventbus.yaml" on top of the defaults.
absl::StatusOr<Config> Parse(std::string_view text) {
  return ParseConfigYaml(text, "eventbus.yaml", Config{});
}

absl::Status ParseError(std::string_view text) { return Parse(text).status(); }

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

// The config from a file with one key set to `value`.
absl::StatusOr<Config> ParseKey(const std::string& section,
                                const std::string& key,
                                const std::string& value) {
  return Parse(absl::StrCat(section, ":\n  ", key, ": ", value, "\n"));
}

absl::StatusOr<Invocation> Invoke(std::vector<const char*> args,
                                  const Getenv& getenv = FakeEnv({})) {
  args.insert(args.begin(), "eventbusd");
  return ParseInvocation(static_cast<int>(args.size()), args.data(), getenv);
}

void ExpectSameConfig(const Config& actual, const Config& expected) {
  EXPECT_EQ(actual.server.address, expected.server.address);
  EXPECT_EQ(actual.server.drain_timeout, expected.server.drain_timeout);
  EXPECT_EQ(actual.server.max_subscribers, expected.server.max_subscribers);
  EXPECT_EQ(actual.server.keepalive_time, expected.server.keepalive_time);
  EXPECT_EQ(actual.server.keepalive_timeout, expected.server.keepalive_timeout);
  EXPECT_EQ(actual.bus.capacity, expected.bus.capacity);
  EXPECT_EQ(actual.bus.max_event_bytes, expected.bus.max_event_bytes);
  EXPECT_EQ(actual.log.level, expected.log.level);
  EXPECT_EQ(actual.server.tls.cert_file, expected.server.tls.cert_file);
  EXPECT_EQ(actual.server.tls.key_file, expected.server.tls.key_file);
  EXPECT_EQ(actual.server.tls.client_ca_file,
            expected.server.tls.client_ca_file);
  EXPECT_EQ(actual.limits.max_attributes, expected.limits.max_attributes);
  EXPECT_EQ(actual.limits.max_attribute_key_bytes,
            expected.limits.max_attribute_key_bytes);
  EXPECT_EQ(actual.limits.max_attribute_value_bytes,
            expected.limits.max_attribute_value_bytes);
  EXPECT_EQ(actual.limits.max_filter_size, expected.limits.max_filter_size);
  EXPECT_EQ(actual.limits.max_filter_expression_bytes,
            expected.limits.max_filter_expression_bytes);
  EXPECT_EQ(actual.limits.max_subscribers_per_peer,
            expected.limits.max_subscribers_per_peer);
  EXPECT_EQ(actual.limits.publish_rate_per_peer,
            expected.limits.publish_rate_per_peer);
  EXPECT_EQ(actual.limits.publish_burst_per_peer,
            expected.limits.publish_burst_per_peer);
  EXPECT_EQ(actual.auth.tokens_file, expected.auth.tokens_file);
  EXPECT_EQ(actual.auth.subjects, expected.auth.subjects);
  EXPECT_EQ(actual.auth.tokens, expected.auth.tokens);
}

constexpr Grants kPublish = {.publish = true};
constexpr Grants kSubscribe = {.subscribe = true};
constexpr Grants kBoth = {.publish = true, .subscribe = true};

// A config whose security settings all differ from the defaults.
Config SecureConfig() {
  Config config;
  config.server.keepalive_time = absl::Seconds(30);
  config.server.keepalive_timeout = absl::Seconds(5);
  config.server.tls.cert_file = "/etc/eventbus/server.pem";
  config.server.tls.key_file = "/etc/eventbus/server.key";
  config.server.tls.client_ca_file = "/etc/eventbus/ca.pem";
  config.limits.max_attributes = 8;
  config.limits.max_attribute_key_bytes = 32;
  config.limits.max_attribute_value_bytes = 1024;
  config.limits.max_filter_size = 4;
  config.limits.max_filter_expression_bytes = 512;
  config.limits.max_subscribers_per_peer = 10;
  config.limits.publish_rate_per_peer = 500;
  config.limits.publish_burst_per_peer = 50;
  config.auth.tokens_file = "/etc/eventbus/tokens";
  config.auth.subjects = {{"opsml-server", kPublish},
                          {"monitor.example.com", kBoth}};
  return config;
}

Config CustomConfig() {
  Config config;
  config.server.address = "unix:/run/eventbus.sock";
  config.server.drain_timeout = absl::Milliseconds(250);
  config.server.max_subscribers = 7;
  config.bus.capacity = 8;
  config.bus.max_event_bytes = 4096;
  config.log.level = "warn";
  return config;
}

// --- Defaults and the YAML file.

TEST(ConfigTest, EmbeddedDefaults) {
  const Config config;
  EXPECT_EQ(config.server.address, "127.0.0.1:50051");
  EXPECT_EQ(config.server.drain_timeout, absl::Seconds(5));
  EXPECT_EQ(config.server.max_subscribers, 10000u);
  EXPECT_EQ(config.server.keepalive_time, absl::Minutes(1));
  EXPECT_EQ(config.server.keepalive_timeout, absl::Seconds(20));
  EXPECT_EQ(config.bus.capacity, 1024u);
  EXPECT_EQ(config.bus.max_event_bytes, 1048576u);
  EXPECT_EQ(config.log.level, "info");
  // Security is off by default: a sidecar on loopback needs none of it.
  EXPECT_FALSE(config.server.tls.enabled());
  EXPECT_EQ(config.server.tls.client_ca_file, "");
  EXPECT_FALSE(config.auth.enabled());
  EXPECT_EQ(config.limits.max_attributes, 64u);
  EXPECT_EQ(config.limits.max_attribute_key_bytes, 256u);
  EXPECT_EQ(config.limits.max_attribute_value_bytes, 4096u);
  EXPECT_EQ(config.limits.max_filter_size, 32u);
  EXPECT_EQ(config.limits.max_filter_expression_bytes, 4096u);
  EXPECT_EQ(config.limits.max_subscribers_per_peer, 1000u);
  EXPECT_EQ(config.limits.publish_rate_per_peer, 100000u);
  EXPECT_EQ(config.limits.publish_burst_per_peer, 100000u);
}

TEST(ConfigTest, EmptyOrCommentOnlyTextKeepsBase) {
  for (std::string_view text :
       {"", "\n\n", "# nothing here\n  # at all\n", "---\n", "server:\n"}) {
    const absl::StatusOr<Config> config =
        ParseConfigYaml(text, "eventbus.yaml", CustomConfig());
    ASSERT_TRUE(config.ok()) << text << ": " << config.status();
    ExpectSameConfig(*config, CustomConfig());
  }
}

TEST(ConfigTest, ParsesEveryKey) {
  const absl::StatusOr<Config> config = Parse(
      "server:\n"
      "  address: \"[::1]:0\"\n"
      "  drain_timeout: 1m30s\n"
      "  max_subscribers: 12\n"
      "bus:\n"
      "  capacity: 16777216\n"
      "  max_event_bytes: 512KiB\n"
      "log:\n"
      "  level: trace\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.address, "[::1]:0");
  EXPECT_EQ(config->server.drain_timeout, absl::Seconds(90));
  EXPECT_EQ(config->server.max_subscribers, 12u);
  EXPECT_EQ(config->bus.capacity, 16777216u);
  EXPECT_EQ(config->bus.max_event_bytes, 524288u);
  EXPECT_EQ(config->log.level, "trace");
}

TEST(ConfigTest, KeysLeftOutKeepBase) {
  const absl::StatusOr<Config> config =
      ParseConfigYaml("bus:\n  capacity: 3\n", "x.yaml", CustomConfig());
  ASSERT_TRUE(config.ok()) << config.status();
  Config expected = CustomConfig();
  expected.bus.capacity = 3;
  ExpectSameConfig(*config, expected);
}

TEST(ConfigTest, ExampleFileHoldsTheDefaults) {
  const absl::StatusOr<Config> config = LoadConfigFile(
      EVENTBUS_SOURCE_DIR "/config/eventbus.yaml", CustomConfig());
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectSameConfig(*config, Config{});
}

TEST(ConfigTest, SizeSuffixes) {
  const std::map<std::string, uint64_t> sizes = {{"64", 64},
                                                 {"100B", 100},
                                                 {"512KiB", 524288},
                                                 {"1MiB", 1048576},
                                                 {"\"2 MiB\"", 2097152},
                                                 {"64MiB", 67108864},
                                                 {"67108864", 67108864}};
  for (const auto& [text, bytes] : sizes) {
    const absl::StatusOr<Config> config =
        ParseKey("bus", "max_event_bytes", text);
    ASSERT_TRUE(config.ok()) << text << ": " << config.status();
    EXPECT_EQ(config->bus.max_event_bytes, bytes) << text;
  }
}

TEST(ConfigTest, BadSizes) {
  const std::string range =
      "eventbus.yaml:2: bus.max_event_bytes: must be between 64 and 67108864, "
      "got ";
  const std::string syntax =
      "eventbus.yaml:2: bus.max_event_bytes: expected a size in bytes like "
      "1048576, \"512KiB\" or \"1MiB\", got ";
  EXPECT_EQ(ParseKey("bus", "max_event_bytes", "63").status(),
            Invalid(range + "63"));
  EXPECT_EQ(ParseKey("bus", "max_event_bytes", "65MiB").status(),
            Invalid(range + "65MiB"));
  EXPECT_EQ(ParseKey("bus", "max_event_bytes", "0KiB").status(),
            Invalid(range + "0KiB"));
  EXPECT_EQ(ParseKey("bus", "max_event_bytes", "99999999999999999999").status(),
            Invalid(range + "99999999999999999999"));
  EXPECT_EQ(ParseKey("bus", "max_event_bytes", "1MB").status(),
            Invalid(syntax + "\"1MB\""));
  EXPECT_EQ(ParseKey("bus", "max_event_bytes", "1.5MiB").status(),
            Invalid(syntax + "\"1.5MiB\""));
  EXPECT_EQ(ParseKey("bus", "max_event_bytes", "-1").status(),
            Invalid(syntax + "\"-1\""));
}

TEST(ConfigTest, Durations) {
  const std::map<std::string, absl::Duration> durations = {
      {"0", absl::ZeroDuration()},        {"0s", absl::ZeroDuration()},
      {"500ms", absl::Milliseconds(500)}, {"5s", absl::Seconds(5)},
      {"1m", absl::Minutes(1)},           {"1h", absl::Hours(1)}};
  for (const auto& [text, duration] : durations) {
    const absl::StatusOr<Config> config =
        ParseKey("server", "drain_timeout", text);
    ASSERT_TRUE(config.ok()) << text << ": " << config.status();
    EXPECT_EQ(config->server.drain_timeout, duration) << text;
  }
}

TEST(ConfigTest, BadDurations) {
  const std::string prefix = "eventbus.yaml:2: server.drain_timeout: ";
  EXPECT_EQ(ParseKey("server", "drain_timeout", "61m").status(),
            Invalid(prefix + "must be between 0s and 1h, got 61m"));
  EXPECT_EQ(ParseKey("server", "drain_timeout", "-1s").status(),
            Invalid(prefix + "must be between 0s and 1h, got -1s"));
  EXPECT_EQ(ParseKey("server", "drain_timeout", "inf").status(),
            Invalid(prefix + "must be between 0s and 1h, got inf"));
  EXPECT_EQ(
      ParseKey("server", "drain_timeout", "5").status(),
      Invalid(prefix + "expected a duration like \"5s\", \"500ms\" or \"1m\", "
                       "got \"5\""));
}

TEST(ConfigTest, MaxBlockIsBetweenOneMillisecondAndOneHour) {
  EXPECT_EQ(ParseKey("bus", "max_block", "250ms")->bus.max_block,
            absl::Milliseconds(250));
  const std::string prefix = "eventbus.yaml:2: bus.max_block: ";
  EXPECT_EQ(ParseKey("bus", "max_block", "0").status(),
            Invalid(prefix + "must be between 1ms and 1h, got 0"));
  EXPECT_EQ(ParseKey("bus", "max_block", "2h").status(),
            Invalid(prefix + "must be between 1ms and 1h, got 2h"));
}

TEST(ConfigTest, Addresses) {
  for (std::string_view address :
       {"127.0.0.1:50051", "localhost:0", "0.0.0.0:65535", "my-host.example:80",
        "[::]:50051", "[::1]:1", "[fe80::1%eth0]:9", "unix:/tmp/bus.sock",
        "unix:relative.sock"}) {
    const absl::StatusOr<Config> config = ParseKey(
        "server", "address", absl::StrCat("\"", std::string(address), "\""));
    ASSERT_TRUE(config.ok()) << address << ": " << config.status();
    EXPECT_EQ(config->server.address, address);
  }
}

// A unix socket in a directory that cannot hold it fails validation (exit
// 2 naming the key), not at bind time.
TEST(ConfigTest, UnixSocketNeedsAWritableDirectory) {
  const testing::TempDir dir;
  Config config;
  config.server.address = "unix:" + dir.path() + "/bus.sock";
  EXPECT_THAT(ValidateConfig(config), IsOk());
  config.server.address = "unix:" + dir.path() + "/missing/bus.sock";
  EXPECT_EQ(ValidateConfig(config),
            Invalid("server.address: cannot create the socket " + dir.path() +
                    "/missing/bus.sock: its directory " + dir.path() +
                    "/missing does not exist or cannot be reached (No "
                    "such file or directory)"));
  const std::string file = dir.WriteFile("file", "");
  config.server.address = "unix:" + file + "/bus.sock";
  EXPECT_EQ(ValidateConfig(config),
            Invalid("server.address: cannot create the socket " + file +
                    "/bus.sock: " + file + " is not a directory"));
  // The 107-byte path itself is accepted by the syntax check.
  EXPECT_THAT(ValidateAddress("unix:/" + std::string(106, 's')), IsOk());
}

TEST(ConfigTest, BadAddresses) {
  const std::map<std::string, std::string> errors = {
      {"localhost", "expected host:port or unix:PATH, got \"localhost\""},
      {"unix:", "unix: needs a socket path, got \"unix:\""},
      {"host:65536",
       "port must be a number between 0 and 65535, got \"65536\" in "
       "\"host:65536\""},
      {"host:",
       "port must be a number between 0 and 65535, got \"\" in "
       "\"host:\""},
      {"host:http",
       "port must be a number between 0 and 65535, got \"http\" in "
       "\"host:http\""},
      {":80",
       "missing host in \":80\" (use 0.0.0.0 or [::] for all interfaces)"},
      {"::1:80",
       "an IPv6 address needs brackets, like \"[::1]:50051\", got "
       "\"::1:80\""},
      {"[::1]", "expected [IPv6]:port, got \"[::1]\""},
      {"[zz]:80", "invalid IPv6 address \"zz\" in \"[zz]:80\""},
      {"a b:80", "invalid host \"a b\" in \"a b:80\""},
      {"unix:/" + std::string(107, 's'),
       "the unix socket path is 108 bytes, over the kernel's limit of 107"},
  };
  for (const auto& [address, reason] : errors) {
    EXPECT_EQ(ParseKey("server", "address",
                       absl::StrCat("\"", std::string(address), "\""))
                  .status(),
              Invalid("eventbus.yaml:2: server.address: " + reason));
  }
}

TEST(ConfigTest, LogLevels) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    const absl::StatusOr<Config> config = ParseKey("log", "level", level);
    ASSERT_TRUE(config.ok()) << level << ": " << config.status();
    EXPECT_EQ(config->log.level, level);
  }
  EXPECT_EQ(ParseKey("log", "level", "verbose").status(),
            Invalid("eventbus.yaml:2: log.level: must be trace, debug, info, "
                    "warn or error, got \"verbose\""));
}

TEST(ConfigTest, LogFormats) {
  for (const char* format : {"text", "json"}) {
    const absl::StatusOr<Config> config = ParseKey("log", "format", format);
    ASSERT_TRUE(config.ok()) << format << ": " << config.status();
    EXPECT_EQ(config->log.format, format);
  }
  EXPECT_EQ(ParseKey("log", "format", "logfmt").status(),
            Invalid("eventbus.yaml:2: log.format: must be text or json, got "
                    "\"logfmt\""));
}

TEST(ConfigTest, MetricsKeys) {
  EXPECT_EQ(Config{}.metrics.address, "");
  EXPECT_EQ(Config{}.metrics.max_subscriber_series, 100u);
  // YAML text -> the address it holds.
  const std::map<std::string, std::string> addresses = {
      {"127.0.0.1:9464", "127.0.0.1:9464"},
      {"0.0.0.0:0", "0.0.0.0:0"},
      {"\"\"", ""}};
  for (const auto& [text, address] : addresses) {
    const absl::StatusOr<Config> config = ParseKey("metrics", "address", text);
    ASSERT_TRUE(config.ok()) << text << ": " << config.status();
    EXPECT_EQ(config->metrics.address, address);
  }
  for (const char* bad :
       {"unix:/run/m.sock", "9464", "localhost:9464", "\"[::1]:9464\"",
        "127.0.0.1:65536", "\"127.0.0.1:\"", "127.0.0.1:x"}) {
    EXPECT_THAT(ParseKey("metrics", "address", bad),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("metrics.address: expected IPv4:port")))
        << bad;
  }
  EXPECT_EQ(ParseKey("metrics", "max_subscriber_series", "10001").status(),
            Invalid("eventbus.yaml:2: metrics.max_subscriber_series: must be "
                    "between 0 and 10000, got 10001"));
}

// --- YAML errors, each with its file, line and key.

TEST(ConfigTest, OutOfRangeNamesKeyAndLine) {
  EXPECT_EQ(ParseError("server:\n"
                       "  address: 127.0.0.1:1\n"
                       "  drain_timeout: 1s\n"
                       "  max_subscribers: 10\n"
                       "bus:\n"
                       "  max_event_bytes: 1MiB\n"
                       "  capacity: 0\n"),
            Invalid("eventbus.yaml:7: bus.capacity: must be between 1 and "
                    "16777216, got 0"));
  EXPECT_EQ(ParseKey("bus", "capacity", "16777217").status(),
            Invalid("eventbus.yaml:2: bus.capacity: must be between 1 and "
                    "16777216, got 16777217"));
  EXPECT_EQ(ParseKey("server", "max_subscribers", "1000001").status(),
            Invalid("eventbus.yaml:2: server.max_subscribers: must be between "
                    "1 and 1000000, got 1000001"));
}

TEST(ConfigTest, UnknownKeys) {
  EXPECT_EQ(ParseError("# comment\nserver:\n  adress: x:1\n"),
            Invalid("eventbus.yaml:3: server.adress: unknown key (did you "
                    "mean server.address?)"));
  EXPECT_EQ(ParseError("servr:\n  address: x:1\n"),
            Invalid("eventbus.yaml:1: servr: unknown key (did you mean "
                    "server?)"));
  EXPECT_EQ(ParseError("server:\n  capacity: 5\n"),
            Invalid("eventbus.yaml:2: server.capacity: unknown key (did you "
                    "mean bus.capacity?)"));
  EXPECT_EQ(ParseError("metrics:\n  port: 9090\n"),
            Invalid("eventbus.yaml:2: metrics.port: unknown key"));
  EXPECT_EQ(ParseError("tracing:\n  port: 9090\n"),
            Invalid("eventbus.yaml:1: tracing: unknown key"));
  EXPECT_EQ(ParseError("log:\n  colour: true\n"),
            Invalid("eventbus.yaml:2: log.colour: unknown key"));
}

TEST(ConfigTest, WrongTypes) {
  const std::string subscribers = "eventbus.yaml:4: server.max_subscribers: ";
  const std::string lines_before = "server:\n  address: x:1\n  # note\n";
  EXPECT_EQ(ParseError(lines_before + "  max_subscribers: many\n"),
            Invalid(subscribers + "expected an integer, got \"many\""));
  EXPECT_EQ(ParseError(lines_before + "  max_subscribers: 1.5\n"),
            Invalid(subscribers + "expected an integer, got \"1.5\""));
  EXPECT_EQ(ParseError(lines_before + "  max_subscribers: 0x10\n"),
            Invalid(subscribers + "expected an integer, got \"0x10\""));
  EXPECT_EQ(
      ParseError(lines_before + "  max_subscribers: -1\n"),
      Invalid(subscribers + "expected a non-negative integer, got \"-1\""));
  EXPECT_EQ(ParseError(lines_before + "  max_subscribers:\n"),
            Invalid(subscribers + "expected an integer, got null"));
  EXPECT_EQ(ParseError(lines_before + "  max_subscribers: [1, 2]\n"),
            Invalid(subscribers + "expected an integer, got a sequence"));
  EXPECT_EQ(ParseError(lines_before + "  max_subscribers:\n    n: 1\n"),
            Invalid(subscribers + "expected an integer, got a map"));
  EXPECT_EQ(
      ParseKey("log", "level", "{a: 1}").status(),
      Invalid("eventbus.yaml:2: log.level: expected a string, got a map"));
  EXPECT_EQ(
      ParseError("bus: 5\n"),
      Invalid("eventbus.yaml:1: bus: expected a map, got a scalar \"5\""));
  EXPECT_EQ(ParseError("log:\n  - level\n"),
            Invalid("eventbus.yaml:1: log: expected a map, got a sequence"));
  EXPECT_EQ(
      ParseError("just text\n"),
      Invalid(
          "eventbus.yaml:1: expected a map with the sections "
          "server, bus, storage, forward, limits, auth, metrics, log, got a "
          "scalar \"just "
          "text\""));
}

TEST(ConfigTest, MalformedYaml) {
  EXPECT_EQ(ParseError("server:\n  address: x:1\n bad: 1\n"),
            Invalid("eventbus.yaml:3: malformed YAML: end of map not found"));
  EXPECT_EQ(ParseError("bus:\n  capacity: 1: 2\n"),
            Invalid("eventbus.yaml:2: malformed YAML: illegal map value"));
  EXPECT_EQ(
      ParseError("bus: {capacity: 1\n"),
      Invalid("eventbus.yaml:2: malformed YAML: end of map flow not found"));
}

TEST(ConfigTest, DuplicateKeys) {
  EXPECT_EQ(ParseError("bus:\n  capacity: 1\n  capacity: 2\n"),
            Invalid("eventbus.yaml:3: bus.capacity: duplicate key (first at "
                    "line 2)"));
  EXPECT_EQ(ParseError("bus: {}\nlog: {}\nbus: {}\n"),
            Invalid("eventbus.yaml:3: bus: duplicate key (first at line 1)"));
}

TEST(ConfigTest, SecondDocument) {
  EXPECT_EQ(ParseError("bus: {}\n---\nlog: {}\n"),
            Invalid("eventbus.yaml:3: expected one YAML document, found a "
                    "second one"));
}

// yaml-cpp 0.7's LoadAll() looped forever, allocating, on a stray flow
// indicator (found by fuzz/config_fuzzer).
TEST(ConfigTest, StrayFlowIndicatorIsMalformed) {
  EXPECT_EQ(ParseError(","),
            Invalid("eventbus.yaml:1: malformed YAML: unexpected \",\""));
  EXPECT_EQ(ParseError("\n\n   , affff"),
            Invalid("eventbus.yaml:3: malformed YAML: unexpected \",\""));
  EXPECT_EQ(ParseError("bus: {}\n,\n"),
            Invalid("eventbus.yaml:2: malformed YAML: end of map not found"));
}

// --- Files.

TEST(ConfigTest, LoadsFileAndNamesItInErrors) {
  const testing::TempDir dir;
  const std::string good = dir.WriteFile("good.yaml", "bus:\n  capacity: 9\n");
  const absl::StatusOr<Config> config = LoadConfigFile(good, Config{});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bus.capacity, 9u);

  const std::string bad = dir.WriteFile("bad.yaml", "bus:\n  capacity: 0\n");
  EXPECT_EQ(LoadConfigFile(bad, Config{}).status(),
            Invalid(bad + ":2: bus.capacity: must be between 1 and 16777216, "
                          "got 0"));
}

TEST(ConfigTest, UnreadableFile) {
  EXPECT_EQ(LoadConfigFile("/x/y.yaml", Config{}).status(),
            Invalid("--config: cannot read config file /x/y.yaml: No such "
                    "file or directory"));
  const testing::TempDir dir;
  EXPECT_EQ(LoadConfigFile(dir.path(), Config{}).status(),
            Invalid("--config: cannot read config file " + dir.path() +
                    ": is a directory, not a regular file"));
  EXPECT_EQ(LoadConfigFile("/dev/zero", Config{}).status(),
            Invalid("--config: cannot read config file /dev/zero: is a "
                    "character device, not a regular file"));
}

// --- Environment.

TEST(ConfigTest, EnvironmentSetsEveryKey) {
  Config config;
  ASSERT_TRUE(ApplyEnvironment(
                  FakeEnv({{"EVENTBUS_SERVER_ADDRESS", "unix:/run/bus.sock"},
                           {"EVENTBUS_SERVER_DRAIN_TIMEOUT", "250ms"},
                           {"EVENTBUS_SERVER_MAX_SUBSCRIBERS", "7"},
                           {"EVENTBUS_BUS_CAPACITY", "8"},
                           {"EVENTBUS_BUS_MAX_EVENT_BYTES", "4KiB"},
                           {"EVENTBUS_LOG_LEVEL", "warn"},
                           {"EVENTBUS_UNRELATED", "ignored"}}),
                  &config)
                  .ok());
  Config expected = CustomConfig();
  expected.server.address = "unix:/run/bus.sock";
  ExpectSameConfig(config, expected);
}

TEST(ConfigTest, EnvironmentErrorsLeaveConfigUnchanged) {
  Config config = CustomConfig();
  EXPECT_EQ(ApplyEnvironment(FakeEnv({{"EVENTBUS_LOG_LEVEL", "debug"},
                                      {"EVENTBUS_BUS_CAPACITY", "0"}}),
                             &config),
            Invalid("environment EVENTBUS_BUS_CAPACITY: bus.capacity: must be "
                    "between 1 and 16777216, got 0"));
  EXPECT_EQ(
      ApplyEnvironment(FakeEnv({{"EVENTBUS_SERVER_ADDRESS", ""}}), &config),
      Invalid("environment EVENTBUS_SERVER_ADDRESS: server.address: set "
              "but empty"));
  ExpectSameConfig(config, CustomConfig());
}

// --- Command line.

TEST(ConfigTest, NoArgumentsGiveDefaults) {
  const absl::StatusOr<Invocation> invocation = Invoke({});
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  ExpectSameConfig(invocation->config, Config{});
  EXPECT_EQ(invocation->config_path, "");
  EXPECT_FALSE(invocation->show_help);
  EXPECT_FALSE(invocation->show_version);
}

TEST(ConfigTest, FlagsInBothForms) {
  const absl::StatusOr<Invocation> invocation =
      Invoke({"--address", "unix:/run/bus.sock", "--drain-timeout=250ms",
              "--max-subscribers", "7", "--capacity=8", "--max-event-bytes",
              "4KiB", "--log-level=warn", "--capacity", "8"});
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  Config expected = CustomConfig();
  expected.server.address = "unix:/run/bus.sock";
  ExpectSameConfig(invocation->config, expected);
}

TEST(ConfigTest, FileThenEnvironmentThenFlags) {
  const testing::TempDir dir;
  const std::string path = dir.WriteFile("precedence.yaml",
                                         "server:\n"
                                         "  max_subscribers: 1\n"
                                         "bus:\n"
                                         "  capacity: 1\n"
                                         "  max_event_bytes: 1KiB\n"
                                         "log:\n"
                                         "  level: debug\n");
  const Getenv env =
      FakeEnv({{"EVENTBUS_BUS_CAPACITY", "2"}, {"EVENTBUS_LOG_LEVEL", "warn"}});
  const absl::StatusOr<Invocation> invocation =
      Invoke({"--log-level", "error", "--config", path.c_str()}, env);
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  EXPECT_EQ(invocation->config_path, path);
  EXPECT_EQ(invocation->config.server.address, "127.0.0.1:50051");  // default
  EXPECT_EQ(invocation->config.server.max_subscribers, 1u);         // file
  EXPECT_EQ(invocation->config.bus.max_event_bytes, 1024u);         // file
  EXPECT_EQ(invocation->config.bus.capacity, 2u);                   // env
  EXPECT_EQ(invocation->config.log.level, "error");                 // flag
}

TEST(ConfigTest, HelpAndVersion) {
  const absl::StatusOr<Invocation> help =
      Invoke({"--config", "/x/y.yaml", "-h"},
             FakeEnv({{"EVENTBUS_LOG_LEVEL", "bogus"}}));
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_TRUE(help->show_help);
  EXPECT_FALSE(help->show_version);
  ASSERT_TRUE(Invoke({"--help"}).ok());
  EXPECT_TRUE(Invoke({"--help"})->show_help);
  ASSERT_TRUE(Invoke({"--version"}).ok());
  EXPECT_TRUE(Invoke({"--version"})->show_version);
  EXPECT_EQ(Invoke({"--help=yes"}).status(), Invalid("--help takes no value"));
}

TEST(ConfigTest, BadCommandLines) {
  EXPECT_EQ(Invoke({"--foo"}).status(),
            Invalid("unknown flag --foo (see --help)"));
  EXPECT_EQ(Invoke({"--foo=1"}).status(),
            Invalid("unknown flag --foo (see --help)"));
  EXPECT_EQ(Invoke({"-c", "x"}).status(),
            Invalid("unknown flag -c (see --help)"));
  EXPECT_EQ(Invoke({"extra"}).status(),
            Invalid("unexpected argument \"extra\" (see --help)"));
  EXPECT_EQ(Invoke({"--capacity"}).status(),
            Invalid("--capacity needs a value"));
  EXPECT_EQ(Invoke({"--capacity", "--log-level", "info"}).status(),
            Invalid("--capacity needs a value"));
  EXPECT_EQ(Invoke({"--config="}).status(), Invalid("--config needs a value"));
  EXPECT_EQ(Invoke({"--capacity", "0"}).status(),
            Invalid("--capacity: must be between 1 and 16777216, got 0"));
  EXPECT_EQ(Invoke({"--drain-timeout", "-1s"}).status(),
            Invalid("--drain-timeout: must be between 0s and 1h, got -1s"));
  EXPECT_EQ(Invoke({"--config", "/x/y.yaml"}).status(),
            Invalid("--config: cannot read config file /x/y.yaml: No such "
                    "file or directory"));
  EXPECT_EQ(
      Invoke({}, FakeEnv({{"EVENTBUS_BUS_MAX_EVENT_BYTES", "1TiB"}})).status(),
      Invalid("environment EVENTBUS_BUS_MAX_EVENT_BYTES: "
              "bus.max_event_bytes: expected a size in bytes like "
              "1048576, \"512KiB\" or \"1MiB\", got \"1TiB\""));
}

TEST(ConfigTest, UsageListsEverySetting) {
  const std::string usage = UsageText();
  for (std::string_view word : {"--config",
                                "--address",
                                "--drain-timeout",
                                "--max-subscribers",
                                "--capacity",
                                "--max-event-bytes",
                                "--log-level",
                                "--help",
                                "-h",
                                "--version",
                                "EVENTBUS_SERVER_ADDRESS",
                                "EVENTBUS_SERVER_DRAIN_TIMEOUT",
                                "EVENTBUS_SERVER_MAX_SUBSCRIBERS",
                                "EVENTBUS_BUS_CAPACITY",
                                "EVENTBUS_BUS_MAX_EVENT_BYTES",
                                "EVENTBUS_LOG_LEVEL",
                                "server:",
                                "address: 127.0.0.1:50051",
                                "drain_timeout: 5s",
                                "max_subscribers: 10000",
                                "bus:",
                                "capacity: 1024",
                                "max_event_bytes: 1MiB",
                                "log:",
                                "level: info"}) {
    EXPECT_NE(usage.find(word), std::string::npos) << word;
  }
}

// --- Security settings: server.keepalive_*, server.tls, limits, auth.

TEST(ConfigTest, ParsesEverySecurityKey) {
  const absl::StatusOr<Config> config = Parse(
      "server:\n"
      "  keepalive_time: 30s\n"
      "  keepalive_timeout: 5s\n"
      "  tls:\n"
      "    cert_file: /etc/eventbus/server.pem\n"
      "    key_file: /etc/eventbus/server.key\n"
      "    client_ca_file: /etc/eventbus/ca.pem\n"
      "limits:\n"
      "  max_attributes: 8\n"
      "  max_attribute_key_bytes: 32\n"
      "  max_attribute_value_bytes: 1KiB\n"
      "  max_filter_size: 4\n"
      "  max_filter_expression_bytes: 512B\n"
      "  max_subscribers_per_peer: 10\n"
      "  publish_rate_per_peer: 500\n"
      "  publish_burst_per_peer: 50\n"
      "auth:\n"
      "  tokens_file: /etc/eventbus/tokens\n"
      "  subjects:\n"
      "    opsml-server: publish\n"
      "    monitor.example.com: subscribe, publish\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectSameConfig(*config, SecureConfig());
}

TEST(ConfigTest, EmptyNestedSectionsKeepBase) {
  const absl::StatusOr<Config> config = ParseConfigYaml(
      "server:\n  tls:\n    # cert_file: x\nauth:\nlimits: {}\n",
      "eventbus.yaml", SecureConfig());
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectSameConfig(*config, SecureConfig());
}

TEST(ConfigTest, SubjectsReplaceTheBaseOnes) {
  const absl::StatusOr<Config> config = ParseConfigYaml(
      "auth:\n  subjects:\n    a: subscribe\n", "x.yaml", SecureConfig());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->auth.subjects,
            (std::map<std::string, Grants>{{"a", kSubscribe}}));
  const absl::StatusOr<Config> none =
      ParseConfigYaml("auth:\n  subjects: {}\n", "x.yaml", SecureConfig());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->auth.subjects.empty());
}

TEST(ConfigTest, SubjectsAsOneString) {
  const absl::StatusOr<Config> config =
      ParseKey("auth", "subjects",
               "\"opsml-server=publish; monitor.example.com = "
               "publish,subscribe;\"");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->auth.subjects, SecureConfig().auth.subjects);
}

TEST(ConfigTest, Grants) {
  EXPECT_EQ(ParseGrants("publish").value(), kPublish);
  EXPECT_EQ(ParseGrants("subscribe").value(), kSubscribe);
  EXPECT_EQ(ParseGrants("publish,subscribe").value(), kBoth);
  EXPECT_EQ(ParseGrants("subscribe , publish").value(), kBoth);
  EXPECT_EQ(ParseGrants("admin").value(), (Grants{.admin = true}));
  EXPECT_EQ(ParseGrants("admin,subscribe,publish").value(),
            (Grants{.publish = true, .subscribe = true, .admin = true}));
  for (std::string_view bad :
       {"", "read", "publish,", "publish,publish", "Publish", ",",
        "publish subscribe", "admin,admin", "administrator"}) {
    EXPECT_EQ(ParseGrants(bad).status(),
              Invalid(absl::StrCat("grants must be publish, subscribe, admin "
                                   "or several of them joined by commas, got "
                                   "\"",
                                   std::string(bad), "\"")))
        << bad;
  }
  EXPECT_EQ(FormatGrants(kBoth), "publish,subscribe");
  EXPECT_EQ(FormatGrants(kSubscribe), "subscribe");
  EXPECT_EQ(FormatGrants(Grants{}), "none");
  EXPECT_EQ(FormatGrants({.subscribe = true, .admin = true}),
            "subscribe,admin");
}

TEST(ConfigTest, NestedSectionErrors) {
  EXPECT_EQ(ParseError("server:\n  tls:\n    cert_fle: x\n"),
            Invalid("eventbus.yaml:3: server.tls.cert_fle: unknown key (did "
                    "you mean server.tls.cert_file?)"));
  EXPECT_EQ(ParseError("server:\n  tsl:\n    cert_file: x\n"),
            Invalid("eventbus.yaml:2: server.tsl: unknown key (did you mean "
                    "server.tls?)"));
  EXPECT_EQ(ParseError("tls:\n  cert_file: x\n"),
            Invalid("eventbus.yaml:1: tls: unknown key (did you mean "
                    "server.tls?)"));
  EXPECT_EQ(ParseError("server:\n  cert_file: x\n"),
            Invalid("eventbus.yaml:2: server.cert_file: unknown key (did you "
                    "mean server.tls.cert_file?)"));
  EXPECT_EQ(ParseError("server:\n  tls: on\n"),
            Invalid("eventbus.yaml:2: server.tls: expected a map, got a "
                    "scalar \"on\""));
  EXPECT_EQ(ParseError("server:\n  tls:\n    key_file: [a]\n"),
            Invalid("eventbus.yaml:3: server.tls.key_file: expected a string, "
                    "got a sequence"));
  EXPECT_EQ(ParseError("server:\n  tls:\n    key_file: a\n    key_file: b\n"),
            Invalid("eventbus.yaml:4: server.tls.key_file: duplicate key "
                    "(first at line 3)"));
  EXPECT_EQ(ParseError("limits:\n  max_atributes: 3\n"),
            Invalid("eventbus.yaml:2: limits.max_atributes: unknown key (did "
                    "you mean limits.max_attributes?)"));
  EXPECT_EQ(ParseError("auth:\n  token_file: x\n"),
            Invalid("eventbus.yaml:2: auth.token_file: unknown key (did you "
                    "mean auth.tokens_file?)"));
  EXPECT_EQ(ParseError("auth:\n  tokens: secret\n"),
            Invalid("eventbus.yaml:2: auth.tokens: unknown key (tokens come "
                    "from auth.tokens_file or EVENTBUS_AUTH_TOKENS, not from "
                    "the config file)"));
}

TEST(ConfigTest, FilePathsMustNotBeEmpty) {
  const std::string reason =
      ": expected a file path, got \"\" (leave the key out for none)";
  EXPECT_EQ(ParseError("server:\n  tls:\n    cert_file: \"\"\n"),
            Invalid("eventbus.yaml:3: server.tls.cert_file" + reason));
  EXPECT_EQ(ParseError("server:\n  tls:\n\n    key_file: ''\n"),
            Invalid("eventbus.yaml:4: server.tls.key_file" + reason));
  EXPECT_EQ(ParseError("server:\n  tls:\n    client_ca_file: \"\"\n"),
            Invalid("eventbus.yaml:3: server.tls.client_ca_file" + reason));
  EXPECT_EQ(ParseKey("auth", "tokens_file", "\"\"").status(),
            Invalid("eventbus.yaml:2: auth.tokens_file" + reason));
  EXPECT_EQ(ParseError("server:\n  tls:\n    cert_file:\n"),
            Invalid("eventbus.yaml:3: server.tls.cert_file: expected a "
                    "string, got null"));
}

TEST(ConfigTest, KeepaliveErrors) {
  EXPECT_EQ(ParseKey("server", "keepalive_time", "500ms").status(),
            Invalid("eventbus.yaml:2: server.keepalive_time: must be between "
                    "1s and 24h, got 500ms"));
  EXPECT_EQ(ParseKey("server", "keepalive_time", "25h").status(),
            Invalid("eventbus.yaml:2: server.keepalive_time: must be between "
                    "1s and 24h, got 25h"));
  EXPECT_EQ(ParseKey("server", "keepalive_timeout", "0s").status(),
            Invalid("eventbus.yaml:2: server.keepalive_timeout: must be "
                    "between 1s and 1h, got 0s"));
  EXPECT_EQ(ParseKey("server", "keepalive_timeout", "20").status(),
            Invalid("eventbus.yaml:2: server.keepalive_timeout: expected a "
                    "duration like \"5s\", \"500ms\" or \"1m\", got \"20\""));
}

TEST(ConfigTest, LimitErrors) {
  const std::map<std::pair<std::string, std::string>, std::string> errors = {
      {{"max_attributes", "1000001"},
       "must be between 0 and 1000000, got 1000001"},
      {{"max_attributes", "-1"}, "expected a non-negative integer, got \"-1\""},
      {{"max_attribute_key_bytes", "0"},
       "must be between 1 and 67108864, got 0"},
      {{"max_attribute_key_bytes", "65MiB"},
       "must be between 1 and 67108864, got 65MiB"},
      {{"max_attribute_value_bytes", "lots"},
       "expected a size in bytes like 1048576, \"512KiB\" or \"1MiB\", got "
       "\"lots\""},
      {{"max_filter_size", "1.5"}, "expected an integer, got \"1.5\""},
      {{"max_filter_size", "1000001"},
       "must be between 0 and 1000000, got 1000001"},
      {{"max_subscribers_per_peer", "0"},
       "must be between 1 and 1000000, got 0"},
      {{"publish_rate_per_peer", "1000000001"},
       "must be between 0 and 1000000000, got 1000000001"},
      {{"publish_burst_per_peer", "0"},
       "must be between 1 and 1000000000, got 0"},
  };
  for (const auto& [key_value, reason] : errors) {
    const auto& [key, value] = key_value;
    EXPECT_EQ(
        ParseKey("limits", key, value).status(),
        Invalid(absl::StrCat("eventbus.yaml:2: limits.", key, ": ", reason)));
  }
  // The lower ends are valid: no attribute, no filter, no rate limit.
  const absl::StatusOr<Config> zero = Parse(
      "limits:\n  max_attributes: 0\n  max_filter_size: 0\n"
      "  publish_rate_per_peer: 0\n");
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(zero->limits.max_attributes, 0u);
  EXPECT_EQ(zero->limits.max_filter_size, 0u);
  EXPECT_EQ(zero->limits.publish_rate_per_peer, 0u);
}

TEST(ConfigTest, SubjectErrors) {
  EXPECT_EQ(ParseError("auth:\n  subjects:\n    a: publish\n    b: write\n"),
            Invalid("eventbus.yaml:4: auth.subjects: \"b\": grants must be "
                    "publish, subscribe, admin or several of them joined by "
                    "commas, got \"write\""));
  EXPECT_EQ(
      ParseError("auth:\n  subjects:\n    a: publish\n    a: subscribe\n"),
      Invalid("eventbus.yaml:4: auth.subjects.a: duplicate key (first at "
              "line 3)"));
  EXPECT_EQ(ParseError("auth:\n  subjects:\n    a:\n"),
            Invalid("eventbus.yaml:3: auth.subjects: \"a\": expected grants "
                    "like publish,subscribe, got null"));
  EXPECT_EQ(ParseError("auth:\n  subjects:\n    a: [publish]\n"),
            Invalid("eventbus.yaml:3: auth.subjects: \"a\": expected grants "
                    "like publish,subscribe, got a sequence"));
  EXPECT_EQ(ParseError("auth:\n  subjects:\n    \"\": publish\n"),
            Invalid("eventbus.yaml:3: auth.subjects: expected a certificate "
                    "common name, got \"\""));
  EXPECT_EQ(ParseError("auth:\n  subjects:\n  - a\n"),
            Invalid("eventbus.yaml:2: auth.subjects: expected a map of "
                    "certificate subjects, got a sequence"));
  EXPECT_EQ(ParseKey("auth", "subjects", "\"a=publish;b\"").status(),
            Invalid("eventbus.yaml:2: auth.subjects: expected entries "
                    "CN=GRANTS separated by ';', got \"b\""));
  EXPECT_EQ(ParseKey("auth", "subjects", "\"a=publish;a=subscribe\"").status(),
            Invalid("eventbus.yaml:2: auth.subjects: duplicate subject "
                    "\"a\""));
}

TEST(ConfigTest, EnvironmentSetsEverySecurityKey) {
  Config config;
  ASSERT_TRUE(
      ApplyEnvironment(
          FakeEnv({
              {"EVENTBUS_SERVER_KEEPALIVE_TIME", "30s"},
              {"EVENTBUS_SERVER_KEEPALIVE_TIMEOUT", "5s"},
              {"EVENTBUS_SERVER_TLS_CERT_FILE", "/etc/eventbus/server.pem"},
              {"EVENTBUS_SERVER_TLS_KEY_FILE", "/etc/eventbus/server.key"},
              {"EVENTBUS_SERVER_TLS_CLIENT_CA_FILE", "/etc/eventbus/ca.pem"},
              {"EVENTBUS_LIMITS_MAX_ATTRIBUTES", "8"},
              {"EVENTBUS_LIMITS_MAX_ATTRIBUTE_KEY_BYTES", "32"},
              {"EVENTBUS_LIMITS_MAX_ATTRIBUTE_VALUE_BYTES", "1KiB"},
              {"EVENTBUS_LIMITS_MAX_FILTER_SIZE", "4"},
              {"EVENTBUS_LIMITS_MAX_FILTER_EXPRESSION_BYTES", "512"},
              {"EVENTBUS_LIMITS_MAX_SUBSCRIBERS_PER_PEER", "10"},
              {"EVENTBUS_LIMITS_PUBLISH_RATE_PER_PEER", "500"},
              {"EVENTBUS_LIMITS_PUBLISH_BURST_PER_PEER", "50"},
              {"EVENTBUS_AUTH_TOKENS_FILE", "/etc/eventbus/tokens"},
              {"EVENTBUS_AUTH_SUBJECTS",
               "opsml-server=publish;monitor.example.com=publish,subscribe"},
          }),
          &config)
          .ok());
  ExpectSameConfig(config, SecureConfig());
}

TEST(ConfigTest, EnvironmentTokensAreKeptAndNeverQuoted) {
  Config config;
  ASSERT_TRUE(ApplyEnvironment(FakeEnv({{"EVENTBUS_AUTH_TOKENS",
                                         "0123456789abcdef publish"}}),
                               &config)
                  .ok());
  EXPECT_EQ(config.auth.tokens, "0123456789abcdef publish");
  EXPECT_TRUE(config.auth.enabled());
  EXPECT_EQ(ApplyEnvironment(FakeEnv({{"EVENTBUS_AUTH_TOKENS", " "}}), &config),
            Invalid("environment EVENTBUS_AUTH_TOKENS: set but empty"));
  EXPECT_EQ(
      ApplyEnvironment(FakeEnv({{"EVENTBUS_AUTH_SUBJECTS", "cn=secret-ish"}}),
                       &config),
      Invalid("environment EVENTBUS_AUTH_SUBJECTS: auth.subjects: "
              "\"cn\": grants must be publish, subscribe, admin or several "
              "of them joined by commas, got \"secret-ish\""));
  EXPECT_EQ(config.auth.tokens, "0123456789abcdef publish");
}

TEST(ConfigTest, FlagsSetEverySecurityKey) {
  const absl::StatusOr<Invocation> invocation =
      Invoke({"--keepalive-time",
              "30s",
              "--keepalive-timeout=5s",
              "--tls-cert-file",
              "/etc/eventbus/server.pem",
              "--tls-key-file=/etc/eventbus/server.key",
              "--tls-client-ca-file",
              "/etc/eventbus/ca.pem",
              "--max-attributes",
              "8",
              "--max-attribute-key-bytes",
              "32",
              "--max-attribute-value-bytes=1KiB",
              "--max-filter-size",
              "4",
              "--max-filter-expression-bytes=512B",
              "--max-subscribers-per-peer",
              "10",
              "--publish-rate-per-peer",
              "500",
              "--publish-burst-per-peer",
              "50",
              "--auth-tokens-file",
              "/etc/eventbus/tokens",
              "--auth-subjects",
              "opsml-server=publish;monitor.example.com=publish,subscribe"});
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  ExpectSameConfig(invocation->config, SecureConfig());
  EXPECT_EQ(Invoke({"--auth-tokens", "x"}).status(),
            Invalid("unknown flag --auth-tokens (see --help)"));
  EXPECT_EQ(Invoke({"--max-filter-size", "x"}).status(),
            Invalid("--max-filter-size: expected an integer, got \"x\""));
}

TEST(ConfigTest, TlsAndSubjectCombinations) {
  EXPECT_EQ(Invoke({"--tls-cert-file", "c.pem"}).status(),
            Invalid("server.tls.cert_file is set but server.tls.key_file is "
                    "not: TLS needs both"));
  EXPECT_EQ(Invoke({"--tls-key-file", "k.pem"}).status(),
            Invalid("server.tls.key_file is set but server.tls.cert_file is "
                    "not: TLS needs both"));
  EXPECT_EQ(Invoke({"--tls-client-ca-file", "ca.pem"}).status(),
            Invalid("server.tls.client_ca_file needs server.tls.cert_file and "
                    "server.tls.key_file: client certificates are checked "
                    "over TLS"));
  EXPECT_EQ(Invoke({"--tls-cert-file", "c.pem", "--tls-key-file", "k.pem",
                    "--auth-subjects", "a=publish"})
                .status(),
            Invalid("auth.subjects needs server.tls.client_ca_file: without "
                    "client certificates there is no subject to grant rights "
                    "to"));
  EXPECT_TRUE(
      Invoke({"--tls-cert-file", "c.pem", "--tls-key-file", "k.pem",
              "--tls-client-ca-file", "ca.pem", "--auth-subjects", "a=publish"})
          .ok());
  EXPECT_TRUE(ValidateConfig(SecureConfig()).ok());
  EXPECT_TRUE(ValidateConfig(Config{}).ok());
}

TEST(ConfigTest, LoopbackAddresses) {
  for (std::string_view address :
       {"127.0.0.1:50051", "127.1.2.3:0", "localhost:1", "LOCALHOST:1",
        "[::1]:50051", "[::ffff:127.0.0.1]:9", "unix:/run/eventbus.sock"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (std::string_view address :
       {"0.0.0.0:50051", "[::]:50051", "10.0.0.7:1", "128.0.0.1:1",
        "my-host.example:80", "localhost.example:1", "[fe80::1%eth0]:9",
        "[::ffff:10.0.0.1]:9"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

TEST(ConfigTest, UsageListsEverySecuritySetting) {
  const std::string usage = UsageText();
  for (std::string_view word : {"--keepalive-time",
                                "--keepalive-timeout",
                                "--tls-cert-file",
                                "--tls-key-file",
                                "--tls-client-ca-file",
                                "--max-attributes",
                                "--max-attribute-key-bytes",
                                "--max-attribute-value-bytes",
                                "--max-filter-size",
                                "--max-subscribers-per-peer",
                                "--publish-rate-per-peer",
                                "--publish-burst-per-peer",
                                "--auth-tokens-file",
                                "--auth-subjects",
                                "EVENTBUS_AUTH_TOKENS ",
                                "EVENTBUS_SERVER_TLS_CLIENT_CA_FILE",
                                "    tls:\n      cert_file:",
                                "limits:\n    max_attributes: 64",
                                "max_attribute_value_bytes: 4KiB",
                                "publish_rate_per_peer: 100000",
                                "auth:\n    tokens_file:"}) {
    EXPECT_NE(usage.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace eventbus

// The settings table: one row per config key, shared by the YAML file, the
// environment, the flags and the usage text. Internal to server/config/
// (config.h is the public interface).
//
// A row names its section, its key name, the Config field it sets, the kind
// of value and one line of help:
//
//   bus.Row("capacity", &BusConfig::capacity,
//           IntegerIn(1, BusOptions::kMaxCapacity),
//           "events kept in the ring before the oldest is overwritten")
//
// Everything else derives from that:
//   key   section + "." + name                       bus.capacity
//   env   "EVENTBUS_" + the key in capitals, '.'->'_'  EVENTBUS_BUS_CAPACITY
//   flag  "--" + name with '_'->'-'                  --capacity
//         prefixed by "SECTION-" for a section that asks for it
//         (FlagPrefix::kSection: auth, log, metrics, storage) and by
//         the last component for every nested section (server.tls:
//         --tls-cert-file) unless it names its own (bus.lanes.high:
//         --lane-high-capacity)
// and from the kind: the usage metavar ("N"), the type named in "expected X,
// got Y" messages ("an integer"), how the value is shown ("1MiB"), and the
// range or choices appended to the help (" (1..16777216)").
//
// The table is built once, on first use, and never changes: safe from any
// thread.
#ifndef EVENTBUS_SERVER_CONFIG_SETTINGS_H_
#define EVENTBUS_SERVER_CONFIG_SETTINGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/config/config.h"

namespace eventbus {

// EVENTBUS_AUTH_TOKENS: the bearer tokens; environment only, no key and no
// flag (see config.h).
inline constexpr char kTokensEnv[] = "EVENTBUS_AUTH_TOKENS";

// One row of the table, type-erased.
struct Setting {
  std::string section;   // "bus", or "server.tls" for a nested one
  std::string name;      // "capacity"
  std::string key;       // "bus.capacity"
  std::string env;       // "EVENTBUS_BUS_CAPACITY"
  std::string flag;      // "--capacity"
  std::string metavar;   // "N", for the usage text
  std::string expected;  // "an integer", as in "expected X, got a map"
  std::string help;      // one line for the usage text, with the range
  // Parses `text` into the field; on failure leaves `config` unchanged and
  // returns the reason only.
  std::function<absl::Status(absl::string_view text, Config* config)> set;
  // The field's value as `set` reads it; "" for none.
  std::function<std::string(const Config& config)> show;
  // For a setting that is a map in YAML (auth.subjects): empties it, then
  // adds one entry. Empty for the others.
  std::function<void(Config* config)> clear_entries;
  std::function<absl::Status(absl::string_view name, absl::string_view value,
                             Config* config)>
      add_entry;
};

// What a row's value is: how text becomes a T, how a T is shown, and what
// the usage text and messages call it.
template <typename T>
struct ValueKind {
  std::string metavar;   // "N"
  std::string expected;  // "an integer"
  // Appended to the row's help: the range, " (1..16777216)", or the
  // choices, ": trace, debug, info, warn or error"; may be empty.
  std::string domain;
  // Fails with the reason only.
  std::function<absl::StatusOr<T>(absl::string_view text)> parse;
  std::function<std::string(const T& value)> show;
  // Map-valued kinds only: adds the YAML map entry NAME: VALUE to `*map`.
  std::function<absl::Status(absl::string_view name, absl::string_view value,
                             T* map)>
      add_entry;
};

// The generic kinds. (server.address and auth.subjects have their own, in
// their section's file.)

// A decimal integer in [min, max]: "N", "an integer", " (MIN..MAX)".
ValueKind<uint64_t> IntegerIn(uint64_t min, uint64_t max);
// Bytes, or a number with B, KiB, MiB or GiB, in [min, max] bytes: "SIZE",
// "a size", " (64B..64MiB)"; shown as "1MiB".
ValueKind<uint64_t> SizeIn(uint64_t min, uint64_t max);
// A duration in [min, max]: "DUR", "a duration", " (0s..1h)"; shown as
// absl::FormatDuration does ("5s").
ValueKind<absl::Duration> DurationIn(absl::Duration min, absl::Duration max);
// "true" or "false": "BOOL", "a boolean".
ValueKind<bool> Boolean();
// A non-empty file path: "FILE", "a string".
ValueKind<std::string> FilePath();
// One of `choices`: "a string", ": a, b or c".
ValueKind<std::string> OneOf(std::string metavar,
                             std::vector<std::string> choices);

// How a top-level section's flags are named: "--level" or "--log-level".
enum class FlagPrefix { kNone, kSection };

// The setting `name` of `section` with its key, env and flag derived as the
// comment at the top says; `flag_prefix` is "" or "log-". Used by
// SectionRows; exposed for the test of the derivation.
Setting NamedSetting(absl::string_view section, absl::string_view name,
                     absl::string_view flag_prefix);

// Builds the rows of one section, whose struct is S.
template <typename S>
class SectionRows {
 public:
  // The top-level section `name`, the member `member` of Config.
  SectionRows(std::string name, S Config::*member,
              FlagPrefix prefix = FlagPrefix::kNone)
      : section_(std::move(name)),
        flag_prefix_(prefix == FlagPrefix::kSection ? section_ + "-" : ""),
        get_([member](Config& config) -> S& { return config.*member; }),
        get_const_([member](const Config& config) -> const S& {
          return config.*member;
        }) {}

  // The section `name` nested in this one, the member `member` of S. Its
  // flags carry `name` ("--tls-cert-file"), or `flag_prefix` when given
  // ("lane-high-": "--lane-high-capacity").
  template <typename N>
  SectionRows<N> Nested(const std::string& name, N S::*member,
                        std::string flag_prefix = "") const {
    return SectionRows<N>(
        section_ + "." + name,
        flag_prefix.empty() ? name + "-" : std::move(flag_prefix),
        [get = get_, member](Config& config) -> N& {
          return get(config).*member;
        },
        [get = get_const_, member](const Config& config) -> const N& {
          return get(config).*member;
        });
  }

  // The setting `name`, stored in `field`. An integer kind's range must fit
  // the field's type.
  template <typename Field, typename Value>
  Setting Row(absl::string_view name, Field S::*field, ValueKind<Value> kind,
              absl::string_view help) const {
    Setting setting = NamedSetting(section_, name, flag_prefix_);
    setting.metavar = std::move(kind.metavar);
    setting.expected = std::move(kind.expected);
    setting.help = std::string(help) + kind.domain;
    setting.set = [get = get_, field, parse = std::move(kind.parse)](
                      absl::string_view text, Config* config) -> absl::Status {
      absl::StatusOr<Value> value = parse(text);
      if (!value.ok()) return value.status();
      get(*config).*field = static_cast<Field>(*std::move(value));
      return absl::OkStatus();
    };
    setting.show = [get = get_const_, field,
                    show = std::move(kind.show)](const Config& config) {
      return show(static_cast<const Value&>(get(config).*field));
    };
    if constexpr (std::is_same_v<Field, Value>) {
      if (kind.add_entry) {
        setting.clear_entries = [get = get_, field](Config* config) {
          get(*config).*field = Field{};
        };
        setting.add_entry = [get = get_, field,
                             add = std::move(kind.add_entry)](
                                absl::string_view entry,
                                absl::string_view value, Config* config) {
          return add(entry, value, &(get(*config).*field));
        };
      }
    }
    return setting;
  }

 private:
  template <typename>
  friend class SectionRows;

  SectionRows(std::string section, std::string flag_prefix,
              std::function<S&(Config&)> get,
              std::function<const S&(const Config&)> get_const)
      : section_(std::move(section)),
        flag_prefix_(std::move(flag_prefix)),
        get_(std::move(get)),
        get_const_(std::move(get_const)) {}

  std::string section_;      // "server.tls"
  std::string flag_prefix_;  // "tls-", or ""
  std::function<S&(Config&)> get_;
  std::function<const S&(const Config&)> get_const_;
};

// The rows of each section, one file each, in the order of the usage text.
std::vector<Setting> ServerSettings();  // server, server.tls
std::vector<Setting> BusSettings();
std::vector<Setting> LimitsSettings();
std::vector<Setting> AuthSettings();
std::vector<Setting> MetricsSettings();
std::vector<Setting> LogSettings();
std::vector<Setting> StorageSettings();  // storage, storage.retention
std::vector<Setting> ForwardSettings();  // forward.nats

// Every row, in the order of the usage text.
const std::vector<Setting>& Settings();

// Every section, in the order of the usage text, each after the one it is
// nested in: "server", "server.tls", "bus", ...
const std::vector<std::string>& SettingSections();

// Whether `section` ("server.tls") is a section.
bool IsSection(absl::string_view section);

// "server, bus, limits, auth, log": the sections at the top of the file.
std::string TopLevelSections();

// The row for `name` in `section`, or null.
const Setting* FindSetting(absl::string_view section, absl::string_view name);

// The row whose flag is `flag` ("--capacity"), or null.
const Setting* FindFlag(absl::string_view flag);

// For the unknown key `name` in `section` ("" at the top): " (did you mean
// server.address?)" for a near miss or a key in the wrong section, a hint
// for auth.tokens, otherwise "".
std::string Suggestion(absl::string_view section, absl::string_view name);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_SETTINGS_H_

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
#include "absl/strings/string_view.h"
#include "server/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace eventbus {
namespace {

constexpr uint64_t kMaxSubscribers = 1000000;
constexpr uint64_t kMaxCapacity = 16777216;
constexpr uint64_t kMinEventBytes = 64;
constexpr uint64_t kMaxEventBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxPort = 65535;
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

absl::StatusOr<absl::Duration> ParseDrainTimeout(absl::string_view text) {
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a duration like \"5s\", \"500ms\" or \"1m\", got ",
        Quoted(text)));
  }
  if (duration < absl::ZeroDuration() || duration > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be between 0s and 1h, got ", text));
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

// --- The settings: one row per key, shared by the file, the environment,
// the flags and the usage text.

absl::Status SetAddress(absl::string_view text, Config* config) {
  EVENTBUS_RETURN_IF_ERROR(ValidateAddress(text));
  config->address = std::string(text);
  return absl::OkStatus();
}

absl::Status SetDrainTimeout(absl::string_view text, Config* config) {
  EVENTBUS_ASSIGN_OR_RETURN(config->drain_timeout, ParseDrainTimeout(text));
  return absl::OkStatus();
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
  absl::string_view section;   // "bus"
  absl::string_view name;      // "capacity"
  absl::string_view key;       // "bus.capacity"
  absl::string_view env;       // "EVENTBUS_BUS_CAPACITY"
  absl::string_view flag;      // "--capacity"
  absl::string_view metavar;   // "N", for the usage text
  absl::string_view expected;  // "an integer", as in "expected X, got a map"
  absl::string_view help;      // one line for the usage text
  absl::Status (*set)(absl::string_view text, Config* config);
  std::string (*show)(const Config& config);  // the value, as `set` reads it
};

constexpr std::array<absl::string_view, 3> kSections = {"server", "bus", "log"};

const std::array<Setting, 6>& Settings() {
  static const std::array<Setting, 6> kSettings = {{
      {"server", "address", "server.address", "EVENTBUS_SERVER_ADDRESS",
       "--address", "ADDR", "a string",
       "listen on host:port, [IPv6]:port or unix:PATH (port 0 picks a free "
       "port)",
       &SetAddress, [](const Config& c) { return c.address; }},
      {"server", "drain_timeout", "server.drain_timeout",
       "EVENTBUS_SERVER_DRAIN_TIMEOUT", "--drain-timeout", "DUR", "a duration",
       "on shutdown, wait this long for subscribers to drain (0s..1h)",
       &SetDrainTimeout,
       [](const Config& c) { return absl::FormatDuration(c.drain_timeout); }},
      {"server", "max_subscribers", "server.max_subscribers",
       "EVENTBUS_SERVER_MAX_SUBSCRIBERS", "--max-subscribers", "N",
       "an integer", "most concurrent subscriptions (1..1000000)",
       &SetMaxSubscribers,
       [](const Config& c) { return absl::StrCat(c.max_subscribers); }},
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
      {"log", "level", "log.level", "EVENTBUS_LOG_LEVEL", "--log-level",
       "LEVEL", "a string",
       "least severe messages logged: trace, debug, info, warn or error",
       &SetLogLevel, [](const Config& c) { return c.log_level; }},
  }};
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

// " (did you mean server.address?)" for a near miss, otherwise "".
// `section` is empty for a top-level key.
std::string Suggestion(absl::string_view section, absl::string_view name) {
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
  if (section.empty()) {
    for (absl::string_view known : kSections) {
      consider(known, std::string(known));
    }
  } else {
    for (const Setting& setting : Settings()) {
      if (setting.section == section) {
        consider(setting.name, std::string(setting.key));
      }
    }
  }
  // A key written in the wrong place: `capacity` at the top or under server.
  if (best.empty()) {
    for (const Setting& setting : Settings()) {
      if (setting.name == name) best = std::string(setting.key);
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

absl::Status ApplySection(absl::string_view source, absl::string_view section,
                          const YAML::Node& map, Config* config) {
  std::map<std::string, int> lines;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    EVENTBUS_RETURN_IF_ERROR(CheckKey(source, key, section, &lines));
    const std::string& name = key.Scalar();
    const std::string path = absl::StrCat(section, ".", name);
    const Setting* setting = FindSetting(section, name);
    if (setting == nullptr) {
      return ErrorAt(
          source, key.Mark(),
          absl::StrCat(path, ": unknown key", Suggestion(section, name)));
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
    return ErrorAt(
        source, root.Mark(),
        absl::StrCat("expected a map with the sections ",
                     absl::StrJoin(kSections, ", "), ", got ", Describe(root)));
  }
  std::map<std::string, int> lines;
  for (const auto& entry : root) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    EVENTBUS_RETURN_IF_ERROR(CheckKey(source, key, "", &lines));
    const std::string& section = key.Scalar();
    if (std::find(kSections.begin(), kSections.end(), section) ==
        kSections.end()) {
      return ErrorAt(
          source, key.Mark(),
          absl::StrCat(section, ": unknown key", Suggestion("", section)));
    }
    // A section whose keys are all commented out is empty, not an error.
    if (value.IsNull()) continue;
    if (!value.IsMap()) {
      return ErrorAt(
          source, key.Mark(),
          absl::StrCat(section, ": expected a map, got ", Describe(value)));
    }
    EVENTBUS_RETURN_IF_ERROR(ApplySection(source, section, value, config));
  }
  return absl::OkStatus();
}

// Reads a whole file; the error says why it could not.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const auto fail = [&path](int error) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read config file ", path, ": ",
        std::error_code(error, std::generic_category()).message()));
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

}  // namespace

absl::StatusOr<Config> ParseConfigYaml(std::string_view text,
                                       std::string_view source, Config base) {
  const absl::string_view name = View(source);
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
    if (documents.empty()) return base;
    if (documents.size() > 1) {
      return ErrorAt(name, documents[1].Mark(),
                     "expected one YAML document, found a second one");
    }
    EVENTBUS_RETURN_IF_ERROR(ApplyDocument(name, documents[0], &base));
  } catch (const YAML::ParserException& e) {
    return ErrorAt(name, e.mark, absl::StrCat("malformed YAML: ", e.msg));
  } catch (const YAML::Exception& e) {
    // Not expected once parsing succeeded: node access is checked above.
    return ErrorAt(name, e.mark, absl::StrCat("invalid YAML: ", e.msg));
  }
  return base;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path, Config base) {
  EVENTBUS_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseConfigYaml(text, path, std::move(base));
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
    absl::StrAppend(&text, "  ", setting.flag, " ", setting.metavar, "\n",
                    "      ", setting.help, "\n",
                    "      default: ", setting.show(defaults), "\n");
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
      "\n"
      "Environment (overrides the file; flags override it):\n");
  for (const Setting& setting : Settings()) {
    absl::StrAppend(
        &text, absl::StrFormat("  %-33s like %s\n", setting.env, setting.flag));
  }
  absl::StrAppend(&text, "\nConfig file keys (YAML), with their defaults:\n");
  absl::string_view section;
  for (const Setting& setting : Settings()) {
    if (setting.section != section) {
      section = setting.section;
      absl::StrAppend(&text, "  ", section, ":\n");
    }
    absl::StrAppend(&text, absl::StrFormat("    %-31s like %s\n",
                                           absl::StrCat(setting.name, ": ",
                                                        setting.show(defaults)),
                                           setting.flag));
  }
  return text;
}

}  // namespace eventbus

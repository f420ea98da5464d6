#include "server/config/settings.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "server/config/values.h"

namespace eventbus {
namespace {

// "a, b or c".
std::string Choices(const std::vector<std::string>& choices) {
  if (choices.size() < 2) return absl::StrJoin(choices, "");
  return absl::StrCat(absl::StrJoin(choices.begin(), choices.end() - 1, ", "),
                      " or ", choices.back());
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

}  // namespace

ValueKind<uint64_t> IntegerIn(uint64_t min, uint64_t max) {
  return {
      .metavar = "N",
      .expected = "an integer",
      .domain = absl::StrCat(" (", min, "..", max, ")"),
      .parse =
          [min, max](absl::string_view text) {
            return ParseInteger(text, min, max);
          },
      .show = [](const uint64_t& value) { return absl::StrCat(value); },
  };
}

ValueKind<uint64_t> SizeIn(uint64_t min, uint64_t max) {
  return {
      .metavar = "SIZE",
      .expected = "a size",
      .domain = absl::StrCat(" (", FormatSize(min), "..", FormatSize(max), ")"),
      .parse =
          [min, max](absl::string_view text) {
            return ParseSize(text, min, max);
          },
      .show = [](const uint64_t& bytes) { return FormatSize(bytes); },
  };
}

ValueKind<absl::Duration> DurationIn(absl::Duration min, absl::Duration max) {
  return {
      .metavar = "DUR",
      .expected = "a duration",
      .domain = absl::StrCat(" (", FormatDurationBound(min), "..",
                             FormatDurationBound(max), ")"),
      .parse =
          [min, max](absl::string_view text) {
            return ParseDuration(text, min, max);
          },
      .show =
          [](const absl::Duration& value) {
            return absl::FormatDuration(value);
          },
  };
}

ValueKind<bool> Boolean() {
  return {
      .metavar = "BOOL",
      .expected = "a boolean",
      .domain = ": true or false",
      .parse = [](absl::string_view text) -> absl::StatusOr<bool> {
        if (text == "true") return true;
        if (text == "false") return false;
        return absl::InvalidArgumentError(
            absl::StrCat("must be true or false, got ", Quoted(text)));
      },
      .show = [](const bool& value) -> std::string {
        return value ? "true" : "false";
      },
  };
}

ValueKind<std::string> FilePath() {
  return {
      .metavar = "FILE",
      .expected = "a string",
      .parse = [](absl::string_view text) { return ParsePath(text); },
      .show = [](const std::string& path) { return path; },
  };
}

ValueKind<std::string> OneOf(std::string metavar,
                             std::vector<std::string> choices) {
  std::string listed = Choices(choices);
  return {
      .metavar = std::move(metavar),
      .expected = "a string",
      .domain = absl::StrCat(": ", listed),
      .parse = [choices = std::move(choices),
                listed](absl::string_view text) -> absl::StatusOr<std::string> {
        if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("must be ", listed, ", got ", Quoted(text)));
        }
        return std::string(text);
      },
      .show = [](const std::string& value) { return value; },
  };
}

Setting NamedSetting(absl::string_view section, absl::string_view name,
                     absl::string_view flag_prefix) {
  Setting setting;
  setting.section = std::string(section);
  setting.name = std::string(name);
  setting.key = absl::StrCat(section, ".", name);
  setting.env = absl::StrCat(
      "EVENTBUS_",
      absl::AsciiStrToUpper(absl::StrReplaceAll(setting.key, {{".", "_"}})));
  setting.flag =
      absl::StrCat("--", flag_prefix, absl::StrReplaceAll(name, {{"_", "-"}}));
  return setting;
}

const std::vector<Setting>& Settings() {
  static const std::vector<Setting>* const kSettings = [] {
    auto* settings = new std::vector<Setting>();
    for (std::vector<Setting> (*section)() :
         {&ServerSettings, &BusSettings, &StorageSettings, &ForwardSettings,
          &LimitsSettings, &AuthSettings, &MetricsSettings, &LogSettings}) {
      for (Setting& setting : section()) {
        settings->push_back(std::move(setting));
      }
    }
    return settings;
  }();
  return *kSettings;
}

std::vector<std::string> ChangedSettings(const Config& a, const Config& b) {
  std::vector<std::string> changed;
  for (const Setting& setting : Settings()) {
    if (setting.show(a) != setting.show(b)) changed.push_back(setting.key);
  }
  return changed;
}

const std::vector<std::string>& SettingSections() {
  static const std::vector<std::string>* const kSections = [] {
    auto* sections = new std::vector<std::string>();
    for (const Setting& setting : Settings()) {
      // A section's parents come first, even one without keys of its own.
      for (size_t dot = setting.section.find('.');;
           dot = setting.section.find('.', dot + 1)) {
        const std::string section = setting.section.substr(0, dot);
        if (std::find(sections->begin(), sections->end(), section) ==
            sections->end()) {
          sections->push_back(section);
        }
        if (dot == std::string::npos) break;
      }
    }
    return sections;
  }();
  return *kSections;
}

bool IsSection(absl::string_view section) {
  const std::vector<std::string>& sections = SettingSections();
  return std::find(sections.begin(), sections.end(), section) != sections.end();
}

std::string TopLevelSections() {
  std::vector<absl::string_view> names;
  for (absl::string_view section : SettingSections()) {
    if (!absl::StrContains(section, '.')) names.push_back(section);
  }
  return absl::StrJoin(names, ", ");
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
  for (absl::string_view known : SettingSections()) {
    if (ParentOf(known) == section) {
      consider(LastComponent(known), std::string(known));
    }
  }
  for (const Setting& setting : Settings()) {
    if (setting.section == section) consider(setting.name, setting.key);
  }
  // A key written in the wrong place: `capacity` at the top or under server,
  // `tls` at the top.
  if (best.empty()) {
    // The first one: `capacity` is bus.capacity, not a lane's.
    for (const Setting& setting : Settings()) {
      if (setting.name == name && best.empty()) best = setting.key;
    }
    for (absl::string_view known : SettingSections()) {
      if (known != section && LastComponent(known) == name) {
        best = std::string(known);
      }
    }
  }
  return best.empty() ? "" : absl::StrCat(" (did you mean ", best, "?)");
}

}  // namespace eventbus

// The rows of `auth`. The tokens themselves (EVENTBUS_AUTH_TOKENS) have no
// row: they come from the environment only (see ApplyEnvironment).

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "server/config/settings.h"
#include "server/config/values.h"
#include "server/security/grants.h"

namespace eventbus {
namespace {

using Subjects = std::map<std::string, Grants>;

// One auth.subjects entry: a certificate common name and its grants.
absl::Status AddSubject(absl::string_view name, absl::string_view grants,
                        Subjects* subjects) {
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
  if (!subjects->emplace(std::string(name), *parsed).second) {
    return absl::InvalidArgumentError(
        absl::StrCat("duplicate subject ", Quoted(name)));
  }
  return absl::OkStatus();
}

// "CN=GRANTS;CN=GRANTS", the form of the environment and the flag (and of a
// scalar in YAML). Blanks around the parts are ignored; "" is no subject.
absl::StatusOr<Subjects> ParseSubjects(absl::string_view text) {
  Subjects subjects;
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
        absl::StripAsciiWhitespace(entry.substr(equals + 1)), &subjects));
  }
  return subjects;
}

std::string FormatSubjects(const Subjects& subjects) {
  std::vector<std::string> entries;
  for (const auto& [name, grants] : subjects) {
    entries.push_back(absl::StrCat(name, "=", FormatGrants(grants)));
  }
  return absl::StrJoin(entries, ";");
}

// Certificate common names and their grants: a YAML map, or one string
// "CN=GRANTS;CN=GRANTS".
ValueKind<Subjects> SubjectGrants() {
  return {
      .metavar = "CN=GRANTS;...",
      .expected = "a map of certificate subjects",
      .parse = &ParseSubjects,
      .show = &FormatSubjects,
      .add_entry = &AddSubject,
  };
}

}  // namespace

std::vector<Setting> AuthSettings() {
  const SectionRows<AuthConfig> auth("auth", &Config::auth,
                                     FlagPrefix::kSection);
  return {
      auth.Row("tokens_file", &AuthConfig::tokens_file, FilePath(),
               "bearer tokens, one \"TOKEN GRANTS [NAME]\" per line"),
      auth.Row("subjects", &AuthConfig::subjects, SubjectGrants(),
               "grants of client certificate common names (needs mTLS)"),
  };
}

}  // namespace eventbus

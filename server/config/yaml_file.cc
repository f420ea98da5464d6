// The config file: ParseConfigYaml and LoadConfigFile. The one place yaml-cpp
// is included: every exception it can throw is caught here and turned into
// an InvalidArgument status naming the file and line.

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "server/config/config.h"
#include "server/config/settings.h"
#include "server/config/values.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace eventbus {
namespace {

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

absl::StatusOr<Config> LoadConfigFile(const std::string& path, Config base) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--config: cannot read config file ", path, ": ",
                     text.status().message()));
  }
  return ParseConfigYaml(*text, path, std::move(base));
}

}  // namespace eventbus

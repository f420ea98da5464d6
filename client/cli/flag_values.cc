#include "client/cli/flag_values.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace eventbus::cli {

CLI::Option* AddOptionalFlag(CLI::App* app, const std::string& name,
                             const std::string& type_name,
                             std::optional<std::string>* value,
                             const std::string& description) {
  return app
      ->add_option_function<std::string>(
          name, [value](const std::string& given) { *value = given; },
          description)
      ->type_name(type_name)
      ->take_last();
}

CLI::Option* AddRepeatedFlag(CLI::App* app, const std::string& name,
                             const std::string& type_name,
                             std::vector<std::string>* values,
                             const std::string& description) {
  // One value per occurrence (CLI11 lets a vector take all that follow), and
  // every occurrence kept.
  return app->add_option(name, *values, description)
      ->allow_extra_args(false)
      ->take_all()
      ->type_name(type_name)
      ->option_text(absl::StrCat(type_name, " (repeatable)"));
}

absl::StatusOr<int> ParseEnumFlag(
    absl::string_view flag, const std::string& value, const std::string& prefix,
    const google::protobuf::EnumDescriptor* descriptor) {
  std::string name = absl::AsciiStrToUpper(value);
  absl::StrReplaceAll({{"-", "_"}}, &name);
  const auto* found = descriptor->FindValueByName(name);
  if (found == nullptr) found = descriptor->FindValueByName(prefix + name);
  if (found == nullptr || found->number() == 0) {
    std::vector<std::string> names;
    for (int i = 1; i < descriptor->value_count(); ++i) {
      names.push_back(absl::AsciiStrToLower(
          descriptor->value(i)->name().substr(prefix.size())));
    }
    return absl::InvalidArgumentError(absl::StrCat(flag, ": unknown value \"",
                                                   value, "\"; one of ",
                                                   absl::StrJoin(names, ", ")));
  }
  return found->number();
}

absl::StatusOr<v1::EventType> ParseEventType(absl::string_view flag,
                                             const std::string& type) {
  if (type == "audit") return v1::EVENT_TYPE_AUDIT;
  if (type == "space_name" || type == "space-name") {
    return v1::EVENT_TYPE_SPACE_NAME;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": unknown event type \"", type, "\"; audit or space_name"));
}

absl::StatusOr<v1::Overflow> ParseOverflow(absl::string_view flag,
                                           const std::string& value) {
  if (value == "drop-oldest" || value == "drop_oldest") {
    return v1::OVERFLOW_DROP_OLDEST;
  }
  if (value == "block") return v1::OVERFLOW_BLOCK;
  if (value == "disconnect") return v1::OVERFLOW_DISCONNECT;
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": unknown overflow policy \"", value,
                   "\"; drop-oldest, block or disconnect"));
}

absl::StatusOr<uint64_t> ParsePositiveInteger(absl::string_view flag,
                                              const std::string& value) {
  uint64_t number = 0;
  if (!absl::SimpleAtoi(value, &number) || number == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected a positive integer"));
  }
  return number;
}

absl::Status AddAttributes(
    const std::vector<std::string>& pairs,
    google::protobuf::Map<std::string, std::string>* attributes) {
  for (const std::string& pair : pairs) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--attr: expected KEY=VALUE, got \"", pair, "\""));
    }
    (*attributes)[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return absl::OkStatus();
}

}  // namespace eventbus::cli

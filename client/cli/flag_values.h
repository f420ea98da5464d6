// Flag declarations and value parsers the commands share: optional and
// repeatable string flags, enum names, event types and KEY=VALUE
// attributes. Each parser's error is an InvalidArgument whose message names
// the flag, for a usage error.
#ifndef EVENTBUS_CLIENT_CLI_FLAG_VALUES_H_
#define EVENTBUS_CLIENT_CLI_FLAG_VALUES_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/map.h>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus::cli {

// Declares `name`, a flag taking a value shown as `type_name`; `*value` is
// set when the flag is given (the last one wins).
CLI::Option* AddOptionalFlag(CLI::App* app, const std::string& name,
                             const std::string& type_name,
                             std::optional<std::string>* value,
                             const std::string& description);

// Declares `name`, a flag taking one value per occurrence, repeatable; each
// value is appended to `*values`.
CLI::Option* AddRepeatedFlag(CLI::App* app, const std::string& name,
                             const std::string& type_name,
                             std::vector<std::string>* values,
                             const std::string& description);

// The number of the value of `descriptor` that `value` names, with or
// without `prefix` and in any case, with '-' for '_': "read",
// "OPERATION_READ" and "operation-read" all name OPERATION_READ. The
// unspecified value (0) is refused; the error lists the valid names.
absl::StatusOr<int> ParseEnumFlag(
    absl::string_view flag, const std::string& value, const std::string& prefix,
    const google::protobuf::EnumDescriptor* descriptor);

// "drop-oldest", "block" or "disconnect" (or with underscores).
absl::StatusOr<v1::Overflow> ParseOverflow(absl::string_view flag,
                                           const std::string& value);

// "audit", or "space_name" (or "space-name"); the error names `flag`.
absl::StatusOr<v1::EventType> ParseEventType(absl::string_view flag,
                                             const std::string& type);

// A positive integer; else "FLAG: expected a positive integer".
absl::StatusOr<uint64_t> ParsePositiveInteger(absl::string_view flag,
                                              const std::string& value);

// Adds each "KEY=VALUE" of `pairs` (the values of --attr) to `*attributes`.
absl::Status AddAttributes(
    const std::vector<std::string>& pairs,
    google::protobuf::Map<std::string, std::string>* attributes);

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_FLAG_VALUES_H_

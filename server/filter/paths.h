// Paths: the parts of an event a filter expression can name (`source`,
// `audit.status`, `attributes["team"]`, ...), each with its type and how to
// read it from a parsed v1::Event.
//
// The table is built once and never changes: any thread may read it.
#ifndef EVENTBUS_SERVER_FILTER_PATHS_H_
#define EVENTBUS_SERVER_FILTER_PATHS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "eventbus/v1/eventbus.pb.h"
#include "google/protobuf/descriptor.h"

namespace eventbus::filter {

// The static type of a path, a literal or a subexpression.
enum class Type {
  kBool,
  kInteger,
  kString,
  kEnum,     // compares with the value names of Path::enum_type
  kMessage,  // `audit`, `space_name`: only has() applies
  kMap,      // `attributes`: indexed, or on the right of `in`
};

// What a path or a literal yields for one event. Enums yield their number.
struct Value {
  enum class Kind : uint8_t { kMissing, kInteger, kString };
  Kind kind = Kind::kMissing;
  int64_t integer = 0;
  absl::string_view string;
};

struct Path {
  // As written in an expression: "audit.status".
  absl::string_view name;
  Type type;
  // kEnum only: the enum its values belong to.
  const google::protobuf::EnumDescriptor* (*enum_type)() = nullptr;
  // The value for `event`; kMissing when the event's payload is another
  // type, an optional field is unset or (attributes) the key is absent.
  // `key` is the attribute key, empty for other paths.
  Value (*get)(const v1::Event& event, const std::string& key) = nullptr;
  // has(path): an attribute present, an optional field set, a payload of
  // this type, or (as in CEL) another field not at its default (not "", 0
  // or the enum's zero value).
  bool (*has)(const v1::Event& event, const std::string& key) = nullptr;
};

// The path named `name` ("sequence", "audit.status", "attributes"), or
// nullptr. An attribute is read through AttributePath().
const Path* FindPath(absl::string_view name);

// attributes["key"] and attributes.key, for any key.
const Path& AttributePath();

// The fields of message path `name` ("audit"), joined by ", ", for errors.
std::string FieldsOf(absl::string_view name);

// The top-level names, joined by ", ", for errors.
std::string TopLevelNames();

// How an error message names a value of `type` ("a string", "an
// eventbus.v1.Operation"); `enum_type` is the enum for kEnum.
std::string TypeName(Type type,
                     const google::protobuf::EnumDescriptor* enum_type);

}  // namespace eventbus::filter

#endif  // EVENTBUS_SERVER_FILTER_PATHS_H_

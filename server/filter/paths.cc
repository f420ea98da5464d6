#include "server/filter/paths.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace eventbus::filter {
namespace {

using google::protobuf::EnumDescriptor;

Value String(const std::string& value) {
  return {.kind = Value::Kind::kString, .string = value};
}
Value Integer(int64_t value) {
  return {.kind = Value::Kind::kInteger, .integer = value};
}

// The readers of one payload message's fields: `Payload` is the message,
// `kGet` the Event accessor and `kHas` its presence test.
template <typename Payload, const Payload& (v1::Event::*kGet)() const,
          bool (v1::Event::*kHas)() const>
struct Fields {
  template <const std::string& (Payload::*kField)() const>
  static Value GetString(const v1::Event& event, const std::string&) {
    if (!(event.*kHas)()) return {};
    return String(((event.*kGet)().*kField)());
  }
  template <const std::string& (Payload::*kField)() const>
  static bool HasString(const v1::Event& event, const std::string&) {
    return (event.*kHas)() && !((event.*kGet)().*kField)().empty();
  }
  // A proto3 `optional string`: missing when unset.
  template <const std::string& (Payload::*kField)() const,
            bool (Payload::*kFieldSet)() const>
  static Value GetOptional(const v1::Event& event, const std::string&) {
    if (!(event.*kHas)() || !((event.*kGet)().*kFieldSet)()) return {};
    return String(((event.*kGet)().*kField)());
  }
  template <bool (Payload::*kFieldSet)() const>
  static bool HasOptional(const v1::Event& event, const std::string&) {
    return (event.*kHas)() && ((event.*kGet)().*kFieldSet)();
  }
  template <typename Enum, Enum (Payload::*kField)() const>
  static Value GetEnum(const v1::Event& event, const std::string&) {
    if (!(event.*kHas)()) return {};
    return Integer(static_cast<int64_t>(((event.*kGet)().*kField)()));
  }
  template <typename Enum, Enum (Payload::*kField)() const>
  static bool HasEnum(const v1::Event& event, const std::string&) {
    return (event.*kHas)() &&
           static_cast<int>(((event.*kGet)().*kField)()) != 0;
  }
  static bool HasPayload(const v1::Event& event, const std::string&) {
    return (event.*kHas)();
  }
};

using Audit = Fields<v1::AuditEvent, &v1::Event::audit, &v1::Event::has_audit>;
using SpaceName = Fields<v1::SpaceNameEvent, &v1::Event::space_name,
                         &v1::Event::has_space_name>;

#define EVENTBUS_STRING_FIELD(Payload, name, Message, field)            \
  Path {                                                                \
    name, Type::kString, nullptr, &Payload::GetString<&Message::field>, \
        &Payload::HasString<&Message::field>                            \
  }
#define EVENTBUS_OPTIONAL_FIELD(Payload, name, Message, field)         \
  Path {                                                               \
    name, Type::kString, nullptr,                                      \
        &Payload::GetOptional<&Message::field, &Message::has_##field>, \
        &Payload::HasOptional<&Message::has_##field>                   \
  }
#define EVENTBUS_ENUM_FIELD(Payload, name, Message, field, Enum) \
  Path {                                                         \
    name, Type::kEnum, &v1::Enum##_descriptor,                   \
        &Payload::GetEnum<v1::Enum, &Message::field>,            \
        &Payload::HasEnum<v1::Enum, &Message::field>             \
  }

const std::vector<Path>& Table() {
  static const auto* const kTable = new std::vector<Path>{
      {"type", Type::kString, nullptr,
       [](const v1::Event& event, const std::string&) -> Value {
         static const std::string kAudit = "audit";
         static const std::string kSpaceName = "space_name";
         if (event.has_audit()) return String(kAudit);
         if (event.has_space_name()) return String(kSpaceName);
         return {};
       },
       [](const v1::Event& event, const std::string&) {
         return event.payload_case() != v1::Event::PAYLOAD_NOT_SET;
       }},
      {"source", Type::kString, nullptr,
       [](const v1::Event& event, const std::string&) {
         return String(event.source());
       },
       [](const v1::Event& event, const std::string&) {
         return !event.source().empty();
       }},
      {"id", Type::kString, nullptr,
       [](const v1::Event& event, const std::string&) {
         return String(event.id());
       },
       [](const v1::Event& event, const std::string&) {
         return !event.id().empty();
       }},
      {"sequence", Type::kInteger, nullptr,
       [](const v1::Event& event, const std::string&) {
         // Sequences start at 1 and would take millennia to pass 2^63;
         // saturate rather than wrap, all the same.
         return Integer(static_cast<int64_t>(std::min<uint64_t>(
             event.sequence(), std::numeric_limits<int64_t>::max())));
       },
       [](const v1::Event& event, const std::string&) {
         return event.sequence() != 0;
       }},
      {"priority", Type::kEnum, &v1::Priority_descriptor,
       // An unspecified priority counts as NORMAL, so every event has one.
       [](const v1::Event& event, const std::string&) {
         return Integer(event.priority() == v1::PRIORITY_UNSPECIFIED
                            ? v1::PRIORITY_NORMAL
                            : event.priority());
       },
       [](const v1::Event&, const std::string&) { return true; }},
      {"attributes", Type::kMap, nullptr,
       [](const v1::Event&, const std::string&) { return Value{}; },
       [](const v1::Event& event, const std::string&) {
         return !event.attributes().empty();
       }},
      {"audit", Type::kMessage, nullptr,
       [](const v1::Event&, const std::string&) { return Value{}; },
       &Audit::HasPayload},
      EVENTBUS_STRING_FIELD(Audit, "audit.username", v1::AuditEvent, username),
      EVENTBUS_STRING_FIELD(Audit, "audit.client_ip", v1::AuditEvent,
                            client_ip),
      EVENTBUS_STRING_FIELD(Audit, "audit.user_agent", v1::AuditEvent,
                            user_agent),
      EVENTBUS_ENUM_FIELD(Audit, "audit.operation", v1::AuditEvent, operation,
                          Operation),
      EVENTBUS_ENUM_FIELD(Audit, "audit.resource_type", v1::AuditEvent,
                          resource_type, ResourceType),
      EVENTBUS_STRING_FIELD(Audit, "audit.resource_id", v1::AuditEvent,
                            resource_id),
      EVENTBUS_OPTIONAL_FIELD(Audit, "audit.access_location", v1::AuditEvent,
                              access_location),
      EVENTBUS_ENUM_FIELD(Audit, "audit.status", v1::AuditEvent, status,
                          AuditStatus),
      EVENTBUS_OPTIONAL_FIELD(Audit, "audit.error_message", v1::AuditEvent,
                              error_message),
      EVENTBUS_STRING_FIELD(Audit, "audit.metadata", v1::AuditEvent, metadata),
      EVENTBUS_ENUM_FIELD(Audit, "audit.registry_type", v1::AuditEvent,
                          registry_type, RegistryType),
      EVENTBUS_STRING_FIELD(Audit, "audit.route", v1::AuditEvent, route),
      {"space_name", Type::kMessage, nullptr,
       [](const v1::Event&, const std::string&) { return Value{}; },
       &SpaceName::HasPayload},
      EVENTBUS_STRING_FIELD(SpaceName, "space_name.space", v1::SpaceNameEvent,
                            space),
      EVENTBUS_STRING_FIELD(SpaceName, "space_name.name", v1::SpaceNameEvent,
                            name),
      EVENTBUS_ENUM_FIELD(SpaceName, "space_name.registry_type",
                          v1::SpaceNameEvent, registry_type, RegistryType),
  };
  return *kTable;
}

#undef EVENTBUS_STRING_FIELD
#undef EVENTBUS_OPTIONAL_FIELD
#undef EVENTBUS_ENUM_FIELD

}  // namespace

const Path* FindPath(absl::string_view name) {
  for (const Path& path : Table()) {
    if (path.name == name) return &path;
  }
  return nullptr;
}

const Path& AttributePath() {
  static const Path kAttribute{
      "attributes[]", Type::kString, nullptr,
      [](const v1::Event& event, const std::string& key) -> Value {
        const auto& attributes = event.attributes();
        const auto it = attributes.find(key);
        if (it == attributes.end()) return {};
        return String(it->second);
      },
      [](const v1::Event& event, const std::string& key) {
        return event.attributes().count(key) != 0;
      }};
  return kAttribute;
}

std::string FieldsOf(absl::string_view name) {
  std::vector<absl::string_view> fields;
  for (const Path& path : Table()) {
    if (path.name.size() > name.size() + 1 &&
        absl::StartsWith(path.name, name) && path.name[name.size()] == '.') {
      fields.push_back(path.name.substr(name.size() + 1));
    }
  }
  return absl::StrJoin(fields, ", ");
}

std::string TopLevelNames() {
  std::vector<absl::string_view> names;
  for (const Path& path : Table()) {
    if (path.name.find('.') == absl::string_view::npos) {
      names.push_back(path.name);
    }
  }
  return absl::StrJoin(names, ", ");
}

std::string TypeName(Type type, const EnumDescriptor* enum_type) {
  switch (type) {
    case Type::kBool:
      return "a condition";
    case Type::kInteger:
      return "an integer";
    case Type::kString:
      return "a string";
    case Type::kEnum:
      return absl::StrCat("an ", enum_type->full_name());
    case Type::kMessage:
      return "a message";
    case Type::kMap:
      return "a map";
  }
  return "a value";
}

}  // namespace eventbus::filter

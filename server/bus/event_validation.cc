#include "server/bus/event_validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "base/text.h"

namespace eventbus {
namespace {

// Proto3 enums are open: an unknown number survives parsing and would be
// stored as is. Rejecting it keeps the audit trail readable by every client.
absl::Status CheckEnum(absl::string_view field, int value,
                       bool (*is_valid)(int), absl::string_view enum_name) {
  if (is_valid(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "event.", field, ": ", value, " is not a value of ", enum_name));
}

// Protobuf refuses to parse a string field that is not UTF-8: an event
// holding one, published in process, could be stored but never read.
absl::Status CheckUtf8(absl::string_view field, const std::string& value) {
  if (IsValidUtf8(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("event.", field, " is not valid UTF-8"));
}

absl::Status ValidateStrings(const v1::Event& event) {
  EVENTBUS_RETURN_IF_ERROR(CheckUtf8("id", event.id()));
  EVENTBUS_RETURN_IF_ERROR(CheckUtf8("source", event.source()));
  for (const auto& [key, value] : event.attributes()) {
    EVENTBUS_RETURN_IF_ERROR(CheckUtf8("attributes (a key)", key));
    // The field's name is built only for the error: it escapes the key.
    if (!IsValidUtf8(value)) {
      return CheckUtf8(absl::StrCat("attributes[\"", EscapeForLog(key), "\"]"),
                       value);
    }
  }
  if (event.has_audit()) {
    const v1::AuditEvent& audit = event.audit();
    EVENTBUS_RETURN_IF_ERROR(CheckUtf8("audit.username", audit.username()));
    EVENTBUS_RETURN_IF_ERROR(CheckUtf8("audit.client_ip", audit.client_ip()));
    EVENTBUS_RETURN_IF_ERROR(CheckUtf8("audit.user_agent", audit.user_agent()));
    EVENTBUS_RETURN_IF_ERROR(
        CheckUtf8("audit.resource_id", audit.resource_id()));
    EVENTBUS_RETURN_IF_ERROR(
        CheckUtf8("audit.access_location", audit.access_location()));
    EVENTBUS_RETURN_IF_ERROR(
        CheckUtf8("audit.error_message", audit.error_message()));
    EVENTBUS_RETURN_IF_ERROR(CheckUtf8("audit.metadata", audit.metadata()));
    EVENTBUS_RETURN_IF_ERROR(CheckUtf8("audit.route", audit.route()));
  }
  if (event.has_space_name()) {
    EVENTBUS_RETURN_IF_ERROR(
        CheckUtf8("space_name.space", event.space_name().space()));
    EVENTBUS_RETURN_IF_ERROR(
        CheckUtf8("space_name.name", event.space_name().name()));
  }
  return absl::OkStatus();
}

absl::Status ValidateAudit(const v1::AuditEvent& audit) {
  EVENTBUS_RETURN_IF_ERROR(CheckEnum("audit.operation", audit.operation(),
                                     v1::Operation_IsValid,
                                     "eventbus.v1.Operation"));
  EVENTBUS_RETURN_IF_ERROR(
      CheckEnum("audit.resource_type", audit.resource_type(),
                v1::ResourceType_IsValid, "eventbus.v1.ResourceType"));
  EVENTBUS_RETURN_IF_ERROR(CheckEnum("audit.status", audit.status(),
                                     v1::AuditStatus_IsValid,
                                     "eventbus.v1.AuditStatus"));
  return CheckEnum("audit.registry_type", audit.registry_type(),
                   v1::RegistryType_IsValid, "eventbus.v1.RegistryType");
}

}  // namespace

absl::Status ValidateEvent(const v1::Event& event) {
  EVENTBUS_RETURN_IF_ERROR(ValidateStrings(event));
  EVENTBUS_RETURN_IF_ERROR(CheckEnum("priority", event.priority(),
                                     v1::Priority_IsValid,
                                     "eventbus.v1.Priority"));
  switch (event.payload_case()) {
    case v1::Event::kAudit:
      return ValidateAudit(event.audit());
    case v1::Event::kSpaceName:
      return CheckEnum("space_name.registry_type",
                       event.space_name().registry_type(),
                       v1::RegistryType_IsValid, "eventbus.v1.RegistryType");
    case v1::Event::PAYLOAD_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "event has no payload: set exactly one of `audit` or `space_name`");
}

}  // namespace eventbus

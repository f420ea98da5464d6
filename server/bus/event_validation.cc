#include "server/bus/event_validation.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"

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

#include "server/event_validation.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/status_macros.h"

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

// Checks the lengths of attribute keys and values; `field` names the map in
// messages ("event.attributes"). The offending text is not quoted: it may be
// long.
absl::Status CheckAttributes(
    absl::string_view field,
    const google::protobuf::Map<std::string, std::string>& attributes,
    const RequestLimits& limits) {
  for (const auto& [key, value] : attributes) {
    if (key.size() > limits.max_attribute_key_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": a key of ", key.size(),
                       " bytes is over limits.max_attribute_key_bytes (",
                       limits.max_attribute_key_bytes, ")"));
    }
    if (value.size() > limits.max_attribute_value_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": a value of ", value.size(),
                       " bytes is over limits.max_attribute_value_bytes (",
                       limits.max_attribute_value_bytes, ")"));
    }
  }
  return absl::OkStatus();
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

absl::Status CheckEventLimits(const v1::Event& event,
                              const RequestLimits& limits) {
  const size_t count = static_cast<size_t>(event.attributes_size());
  if (count > limits.max_attributes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event has ", count, " attributes, over limits.max_attributes (",
        limits.max_attributes, ")"));
  }
  return CheckAttributes("event.attributes", event.attributes(), limits);
}

absl::Status CheckFilterLimits(const v1::EventFilter& filter,
                               const RequestLimits& limits) {
  const size_t size = static_cast<size_t>(filter.types_size()) +
                      static_cast<size_t>(filter.attributes_size());
  if (size > limits.max_filter_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filter has ", size,
        " event types and attributes, over limits.max_filter_size (",
        limits.max_filter_size, ")"));
  }
  return CheckAttributes("filter.attributes", filter.attributes(), limits);
}

}  // namespace eventbus

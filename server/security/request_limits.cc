#include "server/security/request_limits.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace eventbus {
namespace {

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
  if (filter.expression().size() > limits.max_filter_expression_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter.expression is ", filter.expression().size(),
                     " bytes, over limits.max_filter_expression_bytes (",
                     limits.max_filter_expression_bytes, ")"));
  }
  return CheckAttributes("filter.attributes", filter.attributes(), limits);
}

}  // namespace eventbus

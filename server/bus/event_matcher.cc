#include "server/bus/event_matcher.h"

#include "absl/strings/str_cat.h"

namespace eventbus {
namespace {

v1::EventType TypeOf(const v1::Event& event) {
  switch (event.payload_case()) {
    case v1::Event::kAudit:
      return v1::EVENT_TYPE_AUDIT;
    case v1::Event::kSpaceName:
      return v1::EVENT_TYPE_SPACE_NAME;
    case v1::Event::PAYLOAD_NOT_SET:
      break;
  }
  return v1::EVENT_TYPE_UNSPECIFIED;
}

}  // namespace

absl::StatusOr<EventMatcher> EventMatcher::Create(
    const v1::EventFilter& filter) {
  EventMatcher matcher;
  for (int i = 0; i < filter.types_size(); ++i) {
    const int type = filter.types(i);
    if (type == v1::EVENT_TYPE_UNSPECIFIED || !v1::EventType_IsValid(type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter.types[", i, "]: ", type,
                       " is not an event type (use EVENT_TYPE_AUDIT = 1 or "
                       "EVENT_TYPE_SPACE_NAME = 2)"));
    }
    matcher.type_mask_ |= uint32_t{1} << type;
  }
  matcher.attributes_.assign(filter.attributes().begin(),
                             filter.attributes().end());
  if (!filter.expression().empty()) {
    absl::StatusOr<FilterExpression> expression =
        FilterExpression::Compile(filter.expression());
    if (!expression.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter.expression: ", expression.status().message()));
    }
    matcher.expression_ = *std::move(expression);
  }
  return matcher;
}

bool EventMatcher::Matches(const v1::Event& event) const {
  if (type_mask_ != 0 && (type_mask_ & (uint32_t{1} << TypeOf(event))) == 0) {
    return false;
  }
  const auto& attributes = event.attributes();
  for (const auto& [key, value] : attributes_) {
    auto it = attributes.find(key);
    if (it == attributes.end() || it->second != value) return false;
  }
  return !expression_ || expression_->Matches(event);
}

}  // namespace eventbus

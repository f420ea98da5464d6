// EventMatcher: a subscriber's EventFilter, checked and ready to apply.
//
// Created once per subscription from the request's filter; immutable after,
// so any thread may call Matches().
#ifndef EVENTBUS_SERVER_BUS_EVENT_MATCHER_H_
#define EVENTBUS_SERVER_BUS_EVENT_MATCHER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/filter/expression.h"

namespace eventbus {

class EventMatcher {
 public:
  // A matcher that passes every event.
  EventMatcher() = default;

  // Checks `filter` and compiles its expression. Returns InvalidArgument
  // naming the value when `types` holds EVENT_TYPE_UNSPECIFIED or a number
  // outside EventType, and "filter.expression: column N: ..." when the
  // expression does not compile (FilterExpression::Compile).
  static absl::StatusOr<EventMatcher> Create(const v1::EventFilter& filter);

  // True when `event` passes: its payload type is one of the types (or there
  // are none), it carries every attribute with the same value, and the
  // expression (if any) is true.
  bool Matches(const v1::Event& event) const;

  // True when Matches() is true for every event.
  bool MatchesAll() const {
    return type_mask_ == 0 && attributes_.empty() && !expression_;
  }

 private:
  // Bit (1 << EventType) for each accepted type; 0 accepts any type.
  uint32_t type_mask_ = 0;
  std::vector<std::pair<std::string, std::string>> attributes_;
  std::optional<FilterExpression> expression_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_EVENT_MATCHER_H_

// EventMatcher: a subscriber's EventFilter, checked and ready to apply.
//
// Created once per subscription from the request's filter; immutable after,
// so any thread may call Matches().
#ifndef EVENTBUS_SERVER_BUS_EVENT_MATCHER_H_
#define EVENTBUS_SERVER_BUS_EVENT_MATCHER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {

class EventMatcher {
 public:
  // A matcher that passes every event.
  EventMatcher() = default;

  // Checks `filter`. Returns InvalidArgument naming the value when `types`
  // holds EVENT_TYPE_UNSPECIFIED or a number outside EventType.
  static absl::StatusOr<EventMatcher> Create(const v1::EventFilter& filter);

  // True when `event` passes: its payload type is one of the types (or there
  // are none) and it carries every attribute with the same value.
  bool Matches(const v1::Event& event) const;

  // True when Matches() is true for every event.
  bool MatchesAll() const { return type_mask_ == 0 && attributes_.empty(); }

 private:
  // Bit (1 << EventType) for each accepted type; 0 accepts any type.
  uint32_t type_mask_ = 0;
  std::vector<std::pair<std::string, std::string>> attributes_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_EVENT_MATCHER_H_

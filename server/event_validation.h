// Checks an event a publisher sent before the bus accepts it, and the size
// limits (limits.* in the config) of events and Subscribe filters.
#ifndef EVENTBUS_SERVER_EVENT_VALIDATION_H_
#define EVENTBUS_SERVER_EVENT_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {

// Returns OK when `event` may be published: it has a payload and every enum
// field holds a value of its enum. Otherwise InvalidArgument naming the
// field and the value. Size is checked by the bus, which knows the limit and
// the assigned fields.
absl::Status ValidateEvent(const v1::Event& event);

// What one request may carry. The defaults are the config's.
struct RequestLimits {
  uint64_t max_attributes = 64;
  uint64_t max_attribute_key_bytes = 256;
  uint64_t max_attribute_value_bytes = 4096;
  // Event types plus attributes in one filter.
  uint64_t max_filter_size = 32;
};

// InvalidArgument naming the limit's config key when `event` has more
// attributes than limits.max_attributes, or a key or value longer than
// limits.max_attribute_key_bytes / max_attribute_value_bytes.
absl::Status CheckEventLimits(const v1::Event& event,
                              const RequestLimits& limits);

// InvalidArgument naming the limit's config key when `filter` has more
// event types plus attributes than limits.max_filter_size, or an attribute
// key or value over the attribute limits.
absl::Status CheckFilterLimits(const v1::EventFilter& filter,
                               const RequestLimits& limits);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_EVENT_VALIDATION_H_

// ValidateEvent: checks an event a publisher sent before the bus accepts it:
// a payload, and enum fields that hold values of their enums.
#ifndef EVENTBUS_SERVER_BUS_EVENT_VALIDATION_H_
#define EVENTBUS_SERVER_BUS_EVENT_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {

// Returns OK when `event` may be published: it has a payload and every enum
// field holds a value of its enum. Otherwise InvalidArgument naming the
// field and the value. Size is checked by the bus, which knows the limit and
// the assigned fields.
absl::Status ValidateEvent(const v1::Event& event);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_EVENT_VALIDATION_H_

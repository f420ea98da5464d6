// ValidateEvent: checks an event a publisher sent before the bus accepts it:
// a payload, enum fields that hold values of their enums, and string fields
// that are UTF-8.
#ifndef EVENTBUS_SERVER_BUS_EVENT_VALIDATION_H_
#define EVENTBUS_SERVER_BUS_EVENT_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {

// Returns OK when `event` may be published: it has a payload, every enum
// field holds a value of its enum and every string field is UTF-8 (as
// protobuf requires to parse it again). Otherwise InvalidArgument naming the
// field (and the enum value). Size is checked by the bus, which knows the limit
// and the assigned fields.
absl::Status ValidateEvent(const v1::Event& event);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_EVENT_VALIDATION_H_

// The `bus` section of the config: the ring. Plain values. The rows that
// read them are in bus_section.cc; the ranges are BusOptions' (bus.h).
#ifndef EVENTBUS_SERVER_CONFIG_BUS_SECTION_H_
#define EVENTBUS_SERVER_CONFIG_BUS_SECTION_H_

#include <cstdint>

#include "absl/time/time.h"

namespace eventbus {

// bus.lanes.<priority>: one priority's part of the ring.
struct LaneConfig {
  // bus.lanes.<priority>.capacity: events of that priority kept; 0 means
  // bus.capacity. 0..BusOptions::kMaxCapacity.
  uint64_t capacity = 0;
};

// bus.lanes: the ring's lanes, one per event priority.
struct LanesConfig {
  LaneConfig high;
  LaneConfig normal;
  LaneConfig low;
};

// bus: the ring.
struct BusConfig {
  // bus.capacity: events kept in the ring, of PRIORITY_NORMAL and of each
  // lane whose capacity is 0; 1..BusOptions::kMaxCapacity.
  uint64_t capacity = 1024;
  // bus.max_event_bytes: largest accepted event;
  // BusOptions::kMinEventBytes..kMaxEventBytes; integer bytes or a string
  // with suffix B, KiB or MiB ("1MiB", "512KiB").
  uint64_t max_event_bytes = 1 << 20;
  // bus.max_block: how long a subscriber with overflow BLOCK may hold
  // publishers back before its stream is ended;
  // BusOptions::kMinBlock..kMaxBlock.
  absl::Duration max_block = absl::Seconds(1);
  LanesConfig lanes;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_BUS_SECTION_H_

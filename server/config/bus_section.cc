// The rows of `bus`. The ranges are the bus's own (BusOptions).

#include <vector>

#include "absl/strings/str_cat.h"
#include "server/bus/bus.h"
#include "server/config/settings.h"

namespace eventbus {

std::vector<Setting> BusSettings() {
  const SectionRows<BusConfig> bus("bus", &Config::bus);
  const SectionRows<LanesConfig> lanes = bus.Nested("lanes", &BusConfig::lanes);
  const auto lane = [&](const char* name, LaneConfig LanesConfig::*member,
                        const char* help) {
    return lanes.Nested(name, member, absl::StrCat("lane-", name, "-"))
        .Row("capacity", &LaneConfig::capacity,
             IntegerIn(0, BusOptions::kMaxCapacity), help);
  };
  return {
      bus.Row("capacity", &BusConfig::capacity,
              IntegerIn(1, BusOptions::kMaxCapacity),
              "events kept in the ring before the oldest is overwritten"),
      bus.Row("max_event_bytes", &BusConfig::max_event_bytes,
              SizeIn(BusOptions::kMinEventBytes, BusOptions::kMaxEventBytes),
              "largest accepted event, in bytes or with B, KiB, MiB"),
      bus.Row("max_block", &BusConfig::max_block,
              DurationIn(BusOptions::kMinBlock, BusOptions::kMaxBlock),
              "end a BLOCK subscriber that holds publishers back this long"),
      lane("high", &LanesConfig::high,
           "PRIORITY_HIGH events kept in the ring; 0: bus.capacity"),
      lane("normal", &LanesConfig::normal,
           "PRIORITY_NORMAL (and unset) events kept; 0: bus.capacity"),
      lane("low", &LanesConfig::low,
           "PRIORITY_LOW events kept in the ring; 0: bus.capacity"),
  };
}

}  // namespace eventbus

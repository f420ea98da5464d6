// The rows of `bus`. The ranges are the bus's own (BusOptions).

#include <vector>

#include "server/bus/bus.h"
#include "server/config/settings.h"

namespace eventbus {

std::vector<Setting> BusSettings() {
  const SectionRows<BusConfig> bus("bus", &Config::bus);
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
  };
}

}  // namespace eventbus

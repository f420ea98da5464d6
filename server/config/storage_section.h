// The `storage` section of the config: the durable log. Plain values. The
// rows that read them are in storage_section.cc; the ranges are
// LogOptions' (server/storage/log.h).
#ifndef EVENTBUS_SERVER_CONFIG_STORAGE_SECTION_H_
#define EVENTBUS_SERVER_CONFIG_STORAGE_SECTION_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace eventbus {

// storage.retention: when whole closed segments are removed, oldest first.
struct StorageRetentionConfig {
  // storage.retention.max_bytes: the log's size limit; 0 is none.
  uint64_t max_bytes = uint64_t{1} << 30;
  // storage.retention.max_events: the events kept; 0 is no limit.
  uint64_t max_events = 0;
  // storage.retention.max_age: the age of the newest event of a segment
  // after which it goes; 0 is no limit.
  absl::Duration max_age = absl::ZeroDuration();
};

// storage: the durable log.
struct StorageConfig {
  // storage.path: the log's directory; empty keeps the bus in memory only.
  std::string path;
  // storage.fsync: "always", "never", or a duration (kMinFsyncInterval..
  // kMaxFsyncInterval) between syncs.
  std::string fsync = "always";
  // storage.segment_bytes: LogOptions::kMinSegmentBytes..kMaxSegmentBytes.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // storage.repair: a bad record in a closed segment drops the rest of it
  // (logged) instead of stopping the start.
  bool repair = false;
  StorageRetentionConfig retention;
};

inline constexpr absl::Duration kMinFsyncInterval = absl::Milliseconds(1);
inline constexpr absl::Duration kMaxFsyncInterval = absl::Hours(1);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_STORAGE_SECTION_H_

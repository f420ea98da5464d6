// The rows of `storage` and `storage.retention`. The ranges are the log's
// own (LogOptions).

#include <vector>

#include "absl/strings/str_cat.h"
#include "server/config/settings.h"
#include "server/config/values.h"
#include "server/storage/log.h"

namespace eventbus {
namespace {

// A directory, or empty for none.
ValueKind<std::string> DirectoryOrNone() {
  return {
      .metavar = "DIR",
      .expected = "a string",
      .domain = " (empty: memory only)",
      .parse = [](absl::string_view text) -> absl::StatusOr<std::string> {
        return std::string(text);
      },
      .show = [](const std::string& path) { return path; },
  };
}

// "always", "never" or a duration between syncs.
ValueKind<std::string> FsyncMode() {
  const std::string range =
      absl::StrCat(FormatDurationBound(kMinFsyncInterval), "..",
                   FormatDurationBound(kMaxFsyncInterval));
  return {
      .metavar = "MODE",
      .expected = "a string",
      .domain = absl::StrCat(": always, never or a duration (", range, ")"),
      .parse = [](absl::string_view text) -> absl::StatusOr<std::string> {
        if (text == "always" || text == "never") return std::string(text);
        absl::StatusOr<absl::Duration> interval =
            ParseDuration(text, kMinFsyncInterval, kMaxFsyncInterval);
        if (!interval.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "must be always, never or a duration between ",
              FormatDurationBound(kMinFsyncInterval), " and ",
              FormatDurationBound(kMaxFsyncInterval), ", got ", Quoted(text)));
        }
        return std::string(text);
      },
      .show = [](const std::string& mode) { return mode; },
  };
}

}  // namespace

std::vector<Setting> StorageSettings() {
  const SectionRows<StorageConfig> storage("storage", &Config::storage,
                                           FlagPrefix::kSection);
  const SectionRows<StorageRetentionConfig> retention =
      storage.Nested("retention", &StorageConfig::retention);
  return {
      storage.Row("path", &StorageConfig::path, DirectoryOrNone(),
                  "directory of the durable event log"),
      storage.Row("fsync", &StorageConfig::fsync, FsyncMode(),
                  "when a publish is answered (see README)"),
      storage.Row(
          "segment_bytes", &StorageConfig::segment_bytes,
          SizeIn(LogOptions::kMinSegmentBytes, LogOptions::kMaxSegmentBytes),
          "size at which a log segment is closed"),
      storage.Row("repair", &StorageConfig::repair, Boolean(),
                  "drop the rest of a bad closed segment instead of refusing "
                  "to start"),
      retention.Row("max_bytes", &StorageRetentionConfig::max_bytes,
                    SizeIn(0, uint64_t{16} << 40),
                    "remove the oldest closed segments above this; 0: none"),
      retention.Row("max_events", &StorageRetentionConfig::max_events,
                    IntegerIn(0, uint64_t{1000000000000}),
                    "keep about this many events at most; 0: no limit"),
      retention.Row("max_age", &StorageRetentionConfig::max_age,
                    DurationIn(absl::ZeroDuration(), absl::Hours(24 * 3650)),
                    "remove closed segments older than this; 0: no limit"),
  };
}

}  // namespace eventbus

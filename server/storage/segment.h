// Segment: one file of the durable log, named by its first sequence
// ("00000000000000000001.log"), with a sparse in-memory index from sequence
// to file offset (an entry every kIndexIntervalBytes) so that a read from
// any sequence is a seek and a short scan, never a scan of the file.
//
// The last segment is the active one: the log appends to it until it is
// full, then seals it (Seal: synced, its index written beside it as
// "<first>.idx") and starts the next. A sealed segment is immutable. At
// start-up a sealed segment with a valid index file is opened without
// reading its records; any other is scanned (Scan), record by record.
//
// Thread-safety: Append, Truncate and Sync are the log's writer's (Sync may
// run beside an Append); Read and the accessors are safe from any thread.
// mu_ guards what both sides see: the size, the index, the last record.
#ifndef EVENTBUS_SERVER_STORAGE_SEGMENT_H_
#define EVENTBUS_SERVER_STORAGE_SEGMENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "server/storage/file_system.h"

namespace eventbus {

// One event as the log returns it.
struct LogRecord {
  uint64_t sequence = 0;
  int64_t time_nanos = 0;
  std::string event;
};

// What Segment::Scan found.
struct SegmentScan {
  // Records before the first bad one, and where that one starts.
  uint64_t records = 0;
  uint64_t valid_bytes = 0;
  // Set when a bad record (or a short header) follows them: why, and what
  // is after it (bytes, and records whose headers still step through).
  std::optional<std::string> bad;
  uint64_t bad_bytes = 0;
  uint64_t bad_records = 0;
};

class Segment {
 public:
  static constexpr uint64_t kIndexIntervalBytes = 4096;

  // "%020u.log" of `first_sequence`, and its inverse (nullopt for any
  // other name).
  static std::string FileName(uint64_t first_sequence);
  static std::optional<uint64_t> ParseFileName(std::string_view name);

  // A new, empty active segment: the file is created (it must not exist)
  // with its header. The directory is not synced (the log does that).
  static absl::StatusOr<std::shared_ptr<Segment>> Create(
      FileSystem* fs, const std::string& dir, uint64_t first_sequence);
  // An existing segment, opened for reading: its index comes from its
  // index file when that is valid (`*indexed` true), otherwise from a Scan
  // the caller runs. Error: DataLoss when the header is not a segment
  // header for `first_sequence`, or the file's error.
  static absl::StatusOr<std::shared_ptr<Segment>> Open(FileSystem* fs,
                                                       const std::string& dir,
                                                       uint64_t first_sequence,
                                                       bool* indexed);

  Segment(FileSystem* fs, std::string dir, uint64_t first_sequence,
          std::unique_ptr<ReadableFile> reader);

  // Reads every record, verifying each, and builds the index from them up
  // to the first bad one. Error: the file's.
  absl::StatusOr<SegmentScan> Scan() ABSL_LOCKS_EXCLUDED(mu_);

  // Opens the file for appending after `valid_bytes` (cutting what follows,
  // a torn tail), making this the active segment.
  absl::Status OpenForAppend(uint64_t valid_bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // Appends one record. On error nothing of it stays in the file, unless
  // cutting it off failed too: then `*broken` is set (the file's end is
  // unknown; the log stops).
  absl::Status Append(uint64_t sequence, int64_t time_nanos,
                      std::string_view event, std::string* scratch,
                      bool* broken) ABSL_LOCKS_EXCLUDED(mu_);
  // fdatasync of what was appended (OK for a sealed segment).
  absl::Status Sync();
  // Syncs, closes the file for writing and writes the index file.
  absl::Status Seal() ABSL_LOCKS_EXCLUDED(mu_);

  // Reads the records with `from` <= sequence < `end`, in order, appending
  // them to `*out`, until `max_events` or (after the first) `max_bytes` of
  // event bytes. Error: DataLoss naming the file and offset of a record
  // whose checksum fails, or the file's error.
  absl::Status Read(uint64_t from, uint64_t end, size_t max_events,
                    size_t max_bytes, std::vector<LogRecord>* out) const
      ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t first_sequence() const { return first_sequence_; }
  std::string path() const;
  std::string index_path() const;
  // The sequence after the last record (first_sequence when empty).
  uint64_t end_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t size_bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t last_time_nanos() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct IndexEntry {
    uint64_t sequence;
    uint64_t offset;
  };
  // Reads the index file; false when it is missing or does not match.
  bool LoadIndex() ABSL_LOCKS_EXCLUDED(mu_);
  void Indexed(uint64_t sequence, uint64_t offset, int64_t time_nanos,
               uint64_t end_offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FileSystem* const fs_;
  const std::string dir_;
  const uint64_t first_sequence_;
  const std::unique_ptr<ReadableFile> reader_;
  // Set while active, and until sealed; the writer's alone.
  std::unique_ptr<WritableFile> writer_;

  mutable Mutex mu_;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t end_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_time_nanos_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<IndexEntry> index_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_STORAGE_SEGMENT_H_

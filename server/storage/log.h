// Log: the durable event log, a directory of segments (segment.h) holding
// every accepted event with its sequence, publish time and stored bytes.
//
// The bus appends each event, in sequence order, with one write(2) (Append)
// and makes them durable in groups: Sync covers everything appended before
// it with one fdatasync, whatever arrived meanwhile, outside the bus's lock.
// Readers behind the bus's ring read from here (Read), a seek through the
// segment's index and a bounded read-ahead.
//
// Directory: "<first sequence>.log" segments and their ".idx" indexes,
// "instance" (the log's id, which clients see as eventbus-instance) and
// "LOCK" (held while open: one eventbusd per directory). The directory is
// synced after every file created, renamed or removed, before a Sync that
// follows returns.
//
// Recovery (Open): the last segment is verified record by record and a
// torn or bad tail is cut off (reported in LogRecovery), unless Close wrote
// its index at a clean shutdown and the file still has that size: then it
// is taken as a closed segment and a new one is started; a closed
// segment
// is opened from its index and scanned only when the index is missing or
// stale, where a bad record stops the start (DataLoss naming the file and
// offset) unless LogOptions::repair drops the rest of that segment.
//
// Failures: a failed write leaves nothing of the event in the file and
// fails that Append only (the next one tries again: a full disk heals by
// itself). A failed fdatasync, or a write that cannot be cut off, stops the
// log: the page cache may then hold what the disk never will (PostgreSQL's
// "fsyncgate"), so every later Append and Sync fails until a restart
// recovers from what is on disk.
//
// Thread-safety: Append, Sync and ApplyRetention are each called by one
// thread at a time (the bus appends under its lock; one committer syncs
// and applies retention); Sync runs beside Append. Read and the accessors
// are safe from any thread. mu_ guards the segment list and the counters;
// no file operation happens under it.
#ifndef EVENTBUS_SERVER_STORAGE_LOG_H_
#define EVENTBUS_SERVER_STORAGE_LOG_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/histogram.h"
#include "base/mutex.h"
#include "server/storage/file_system.h"
#include "server/storage/segment.h"

namespace eventbus {

struct LogOptions {
  static constexpr uint64_t kMinSegmentBytes = uint64_t{64} << 10;
  static constexpr uint64_t kMaxSegmentBytes = uint64_t{4} << 30;

  // The directory, created when missing.
  std::string path;
  // A segment is closed when the next record would take it past this.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Retention (ApplyRetention): whole closed segments, oldest first, while
  // the log is over any limit; 0 means no limit.
  uint64_t max_bytes = uint64_t{1} << 30;
  uint64_t max_events = 0;
  absl::Duration max_age = absl::ZeroDuration();
  // Whether a bad record in a closed segment drops the rest of that segment
  // (logged) instead of stopping the start.
  bool repair = false;
  FileSystem* fs = PosixFileSystem();
};

// What Open found and did, for the start-up log.
struct LogRecovery {
  bool created = false;  // a new log (and a new instance id)
  uint64_t segments = 0;
  uint64_t bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t next_sequence = 0;
  // Each thing cut off or dropped, as a sentence for a warning line.
  std::vector<std::string> losses;
  absl::Duration took;
};

class Log {
 public:
  // Opens (recovering) or creates the log in options.path. Errors:
  // InvalidArgument (segment_bytes out of range), FailedPrecondition
  // (locked by another process), DataLoss (a bad closed segment without
  // repair), or the file system's.
  static absl::StatusOr<std::unique_ptr<Log>> Open(LogOptions options,
                                                   LogRecovery* recovery);

  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  ~Log();

  // The log's id: made when the log is created, the same across restarts.
  const std::string& instance_id() const { return instance_id_; }

  // Writes `event` as `sequence`, which must be next_sequence(). Error:
  // Unavailable with the cause (a write error such as ENOSPC, or a stopped
  // log); nothing is appended then.
  absl::Status Append(uint64_t sequence, int64_t time_nanos,
                      std::string_view event) ABSL_LOCKS_EXCLUDED(mu_);

  // Makes every event appended before the call durable (fdatasync, closing
  // full segments, syncing the directory) and returns the sequence after
  // the last of them. Without `data`, only closes full segments and syncs
  // the directory (storage.fsync never). Error: Unavailable with the
  // cause; the log has stopped.
  absl::StatusOr<uint64_t> Sync(bool data = true) ABSL_LOCKS_EXCLUDED(mu_);

  // Syncs as Sync() does, then writes the active segment's index, so that
  // the next Open takes the segment as a closed one instead of reading it
  // through (a clean shutdown). Appends are refused from then on; Sync() and
  // Close() again return the same end. An index that cannot be written only
  // makes the next Open slower. Error: Sync()'s.
  absl::StatusOr<uint64_t> Close() ABSL_LOCKS_EXCLUDED(mu_);

  // Appends to `*out` the events from `from` on, below `end`, up to
  // `max_events` or (after the first) `max_bytes` of event bytes. When
  // events at `from` are gone (retention, a repaired segment) the first
  // returned is later: the caller reports the gap. Error: DataLoss (a bad
  // record), or the file system's.
  absl::Status Read(uint64_t from, uint64_t end, size_t max_events,
                    size_t max_bytes, std::vector<LogRecord>* out) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Removes the oldest closed segments while the log is over a retention
  // limit at `now`, keeping every segment that holds `keep_from` or a later
  // sequence (a reader that must not lose them: the forwarder); returns how
  // many. Error: the file system's (the log goes on; the next call tries
  // again).
  absl::StatusOr<int> ApplyRetention(absl::Time now,
                                     uint64_t keep_from = UINT64_MAX)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The oldest event kept (next_sequence() when there is none).
  uint64_t first_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  // The sequence the next Append takes.
  uint64_t next_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t size_bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t segment_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // OK while the log accepts appends.
  absl::Status health() const ABSL_LOCKS_EXCLUDED(mu_);
  // How long each Sync(data=true) took, the fdatasync and what closes full
  // segments, for metrics.
  const Histogram& sync_durations() const { return sync_durations_; }

 private:
  Log(LogOptions options, std::unique_ptr<DirectoryLock> lock);
  absl::Status Recover(LogRecovery* recovery);
  absl::Status LoadInstance(bool new_log, LogRecovery* recovery);
  // Starts a new active segment at `first_sequence`.
  absl::Status Roll(uint64_t first_sequence) ABSL_LOCKS_EXCLUDED(mu_);
  std::string PathOf(const std::string& name) const;

  const LogOptions options_;
  const std::unique_ptr<DirectoryLock> lock_;
  std::string instance_id_;
  // The writer's alone: the encoding of the record being appended.
  std::string scratch_;

  mutable Mutex mu_;
  // Oldest first; the last is the active one.
  std::deque<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  // Closed segments not yet sealed (synced, indexed): Sync seals them.
  std::vector<std::shared_ptr<Segment>> unsealed_ ABSL_GUARDED_BY(mu_);
  // A file was created or removed since the directory was last synced.
  bool directory_changed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  // Bytes of the closed segments (the active one's are its own).
  uint64_t closed_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Not OK once the log stopped.
  absl::Status stopped_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Histogram sync_durations_{Histogram::LatencyBounds()};
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_STORAGE_LOG_H_

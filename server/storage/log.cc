#include "server/storage/log.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/random_uuid.h"
#include "base/status_macros.h"
#include "server/storage/record_format.h"

namespace eventbus {
namespace {

constexpr char kInstanceFile[] = "instance";
constexpr char kLockFile[] = "LOCK";
constexpr size_t kInstanceIdBytes = 36;

absl::Status Stopped(const absl::Status& cause) {
  return absl::UnavailableError(
      absl::StrCat("the durable log stopped after an error (", cause.message(),
                   "); nothing is stored until eventbusd restarts and "
                   "recovers from the disk"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Log>> Log::Open(LogOptions options,
                                               LogRecovery* recovery) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("the log needs a directory");
  }
  if (options.segment_bytes < LogOptions::kMinSegmentBytes ||
      options.segment_bytes > LogOptions::kMaxSegmentBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment_bytes must be between ", LogOptions::kMinSegmentBytes, " and ",
        LogOptions::kMaxSegmentBytes, ", got ", options.segment_bytes));
  }
  const absl::Time started = absl::Now();
  FileSystem* fs = options.fs;
  EVENTBUS_RETURN_IF_ERROR(fs->CreateDirectory(options.path));
  EVENTBUS_ASSIGN_OR_RETURN(
      std::unique_ptr<DirectoryLock> lock,
      fs->LockDirectory(absl::StrCat(options.path, "/", kLockFile)));
  std::unique_ptr<Log> log(new Log(std::move(options), std::move(lock)));
  *recovery = LogRecovery{};
  EVENTBUS_RETURN_IF_ERROR(log->Recover(recovery));
  recovery->segments = log->segment_count();
  recovery->bytes = log->size_bytes();
  recovery->first_sequence = log->first_sequence();
  recovery->next_sequence = log->next_sequence();
  recovery->took = absl::Now() - started;
  return log;
}

Log::Log(LogOptions options, std::unique_ptr<DirectoryLock> lock)
    : options_(std::move(options)), lock_(std::move(lock)) {}

Log::~Log() = default;

std::string Log::PathOf(const std::string& name) const {
  return absl::StrCat(options_.path, "/", name);
}

absl::Status Log::Recover(LogRecovery* recovery) {
  FileSystem* fs = options_.fs;
  EVENTBUS_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            fs->ListDirectory(options_.path));
  std::map<uint64_t, std::string> found;
  for (const std::string& name : names) {
    if (std::optional<uint64_t> first = Segment::ParseFileName(name)) {
      found.emplace(*first, name);
    } else if (name.ends_with(".idx.tmp")) {
      fs->Remove(PathOf(name)).IgnoreError();  // an index never renamed
    }
  }
  EVENTBUS_RETURN_IF_ERROR(LoadInstance(found.empty(), recovery));
  std::deque<std::shared_ptr<Segment>> segments;
  bool repaired_previous = false;  // its loss is reported already
  bool directory_changed = false;
  bool last_writable = false;  // the last segment was opened for appends
  for (auto it = found.begin(); it != found.end(); ++it) {
    const bool last = std::next(it) == found.end();
    bool indexed = false;
    absl::StatusOr<std::shared_ptr<Segment>> segment =
        Segment::Open(fs, options_.path, it->first, &indexed);
    if (!segment.ok()) {
      if (last && absl::IsDataLoss(segment.status())) {
        // Created and torn before its header was whole: nothing was in it.
        recovery->losses.push_back(absl::StrCat(
            segment.status().message(), "; removed (it held no event)"));
        EVENTBUS_RETURN_IF_ERROR(fs->Remove(PathOf(it->second)));
        directory_changed = true;
        break;
      }
      return segment.status();
    }
    const bool repaired_before = repaired_previous;
    repaired_previous = false;
    if (last && indexed) {
      // Closed cleanly (Close wrote its index, and the file still has the
      // indexed size): it is taken as a closed segment, unread, and appends
      // go to a new one, so no event acknowledged later ever shares a file
      // with bytes recovery did not verify.
    } else if (last || !indexed) {
      EVENTBUS_ASSIGN_OR_RETURN(SegmentScan scan, (*segment)->Scan());
      repaired_previous = scan.bad.has_value();
      if (scan.bad) {
        const uint64_t kept_end = it->first + scan.records;
        const uint64_t due_end = last ? kept_end : std::next(it)->first;
        if (!last && !options_.repair) {
          return absl::DataLossError(absl::StrCat(
              *scan.bad,
              " (a closed segment: set storage.repair: true to drop the "
              "rest of it and start)"));
        }
        recovery->losses.push_back(absl::StrCat(
            last ? "torn tail cut off: " : "repaired: ", *scan.bad, "; ",
            scan.bad_records, " records and ", scan.bad_bytes, " bytes dropped",
            due_end > kept_end ? absl::StrCat(", sequences ", kept_end, "..",
                                              due_end - 1, " lost")
                               : ""));
      }
      if (last) {
        EVENTBUS_RETURN_IF_ERROR((*segment)->OpenForAppend(scan.valid_bytes));
        last_writable = true;
        // An index of an earlier size (a clean shutdown, then appends and a
        // crash) would never match again: it goes.
        const absl::Status stale = fs->Remove((*segment)->index_path());
        if (!stale.ok() && !absl::IsNotFound(stale)) return stale;
        directory_changed |= stale.ok();
      } else if (scan.bad || !indexed) {
        if (scan.bad) {
          EVENTBUS_RETURN_IF_ERROR((*segment)->OpenForAppend(scan.valid_bytes));
        }
        if (scan.records == 0) {
          EVENTBUS_RETURN_IF_ERROR(fs->Remove((*segment)->path()));
          directory_changed = true;
          continue;
        }
        EVENTBUS_RETURN_IF_ERROR((*segment)->Seal());
        directory_changed = true;
      }
    }
    if (!segments.empty() && !repaired_before &&
        segments.back()->end_sequence() != (*segment)->first_sequence()) {
      recovery->losses.push_back(absl::StrFormat(
          "sequences %u..%u are missing between %s and %s",
          segments.back()->end_sequence(), (*segment)->first_sequence() - 1,
          segments.back()->path(), (*segment)->path()));
    }
    segments.push_back(*std::move(segment));
  }
  uint64_t next = segments.empty() ? 1 : segments.back()->end_sequence();
  if (segments.empty() && !found.empty()) {
    // Only a torn first segment was there: start where it meant to.
    next = found.begin()->first;
  }
  // Every segment but a writable last one is closed (Roll below closes a
  // last one that is not: a cleanly closed one, or the one before a
  // segment whose header was torn).
  uint64_t closed_bytes = 0;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    closed_bytes += segments[i]->size_bytes();
  }
  const bool need_active = segments.empty() || !last_writable;
  {
    MutexLock lock(&mu_);
    segments_ = std::move(segments);
    closed_bytes_ = closed_bytes;
    next_sequence_ = next;
    directory_changed_ = directory_changed;
  }
  if (need_active) EVENTBUS_RETURN_IF_ERROR(Roll(next));
  // What recovery changed is on disk before anything new is appended.
  absl::StatusOr<uint64_t> synced = Sync();
  return synced.status();
}

absl::Status Log::LoadInstance(bool new_log, LogRecovery* recovery) {
  FileSystem* fs = options_.fs;
  const std::string path = PathOf(kInstanceFile);
  if (!new_log) {
    absl::StatusOr<std::unique_ptr<ReadableFile>> file = fs->OpenReadable(path);
    if (file.ok()) {
      char id[kInstanceIdBytes + 1];
      EVENTBUS_ASSIGN_OR_RETURN(size_t got, (*file)->ReadAt(0, sizeof(id), id));
      std::string_view text(id, got);
      if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
      if (text.size() != kInstanceIdBytes) {
        return absl::DataLossError(absl::StrCat(path, ": not an instance id"));
      }
      instance_id_ = std::string(text);
      return absl::OkStatus();
    }
    if (!absl::IsNotFound(file.status())) return file.status();
    recovery->losses.push_back(
        absl::StrCat(path, " was missing: the log gets a new instance id"));
  }
  recovery->created = new_log;
  instance_id_ = RandomUuid();
  const std::string temporary = path + ".tmp";
  {
    EVENTBUS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                              fs->OpenWritable(temporary, false));
    EVENTBUS_RETURN_IF_ERROR(file->Truncate(0));
    EVENTBUS_RETURN_IF_ERROR(file->Append(instance_id_ + "\n"));
    EVENTBUS_RETURN_IF_ERROR(file->Sync());
  }
  EVENTBUS_RETURN_IF_ERROR(fs->Rename(temporary, path));
  return fs->SyncDirectory(options_.path);
}

absl::Status Log::Roll(uint64_t first_sequence) {
  EVENTBUS_ASSIGN_OR_RETURN(
      std::shared_ptr<Segment> segment,
      Segment::Create(options_.fs, options_.path, first_sequence));
  MutexLock lock(&mu_);
  if (!segments_.empty()) {
    closed_bytes_ += segments_.back()->size_bytes();
    unsealed_.push_back(segments_.back());
  }
  segments_.push_back(std::move(segment));
  directory_changed_ = true;
  return absl::OkStatus();
}

absl::Status Log::Append(uint64_t sequence, int64_t time_nanos,
                         std::string_view event) {
  std::shared_ptr<Segment> active;
  {
    MutexLock lock(&mu_);
    if (!stopped_.ok()) return Stopped(stopped_);
    if (closed_) {
      return absl::UnavailableError(
          "storage: the log is closed; not published");
    }
    if (sequence != next_sequence_) {
      return absl::InternalError(absl::StrCat("appending sequence ", sequence,
                                              " where ", next_sequence_,
                                              " is due"));
    }
    active = segments_.back();
  }
  const uint64_t record_bytes = kRecordHeaderBytes + event.size();
  if (active->end_sequence() > active->first_sequence() &&
      active->size_bytes() + record_bytes > options_.segment_bytes) {
    if (absl::Status rolled = Roll(sequence); !rolled.ok()) {
      return absl::UnavailableError(
          absl::StrCat("storage: ", rolled.message(), "; not published"));
    }
    MutexLock lock(&mu_);
    active = segments_.back();
  }
  bool broken = false;
  absl::Status written =
      active->Append(sequence, time_nanos, event, &scratch_, &broken);
  MutexLock lock(&mu_);
  if (!written.ok()) {
    if (broken) stopped_ = written;
    return absl::UnavailableError(
        absl::StrCat("storage: ", written.message(), "; not published"));
  }
  next_sequence_ = sequence + 1;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Log::Sync(bool data) {
  std::shared_ptr<Segment> active;
  std::vector<std::shared_ptr<Segment>> to_seal;
  bool directory = false;
  uint64_t through = 0;
  {
    MutexLock lock(&mu_);
    if (!stopped_.ok()) return Stopped(stopped_);
    through = next_sequence_;
    active = segments_.back();
    to_seal.swap(unsealed_);
    directory = directory_changed_ || !to_seal.empty();
    directory_changed_ = false;
  }
  const absl::Time start = absl::Now();
  absl::Status synced = data ? active->Sync() : absl::OkStatus();
  for (const auto& segment : to_seal) {
    if (synced.ok()) synced = segment->Seal();
  }
  if (synced.ok() && directory) {
    synced = options_.fs->SyncDirectory(options_.path);
  }
  if (data) sync_durations_.Observe(absl::Now() - start);
  if (!synced.ok()) {
    MutexLock lock(&mu_);
    stopped_ = synced;
    return Stopped(synced);
  }
  return through;
}

absl::StatusOr<uint64_t> Log::Close() {
  const absl::StatusOr<uint64_t> through = Sync(/*data=*/true);
  if (!through.ok()) return through;
  std::shared_ptr<Segment> active;
  {
    MutexLock lock(&mu_);
    if (closed_) return through;
    closed_ = true;
    active = segments_.back();
  }
  if (active->Seal().ok()) {
    options_.fs->SyncDirectory(options_.path).IgnoreError();
  }
  return through;
}

absl::Status Log::Read(uint64_t from, uint64_t end, size_t max_events,
                       size_t max_bytes, std::vector<LogRecord>* out) const {
  std::vector<std::shared_ptr<Segment>> segments;
  {
    MutexLock lock(&mu_);
    // The segment holding `from`, and those after it.
    auto after = std::upper_bound(
        segments_.begin(), segments_.end(), from,
        [](uint64_t sequence, const std::shared_ptr<Segment>& s) {
          return sequence < s->first_sequence();
        });
    if (after != segments_.begin()) --after;
    segments.assign(after, segments_.end());
  }
  const size_t before = out->size();
  size_t bytes = 0;
  for (const auto& segment : segments) {
    const size_t events = out->size() - before;
    if (events >= max_events || from >= end) break;
    if (segment->end_sequence() <= from) continue;
    const size_t start = out->size();
    EVENTBUS_RETURN_IF_ERROR(segment->Read(
        from, end, max_events - events,
        events == 0 ? max_bytes : max_bytes - std::min(max_bytes, bytes), out));
    for (size_t i = start; i < out->size(); ++i) {
      bytes += (*out)[i].event.size();
    }
    if (out->size() > before) from = out->back().sequence + 1;
    if (bytes >= max_bytes) break;
    // A segment read short of its end stopped on a limit.
    if (!out->empty() && out->size() > before &&
        out->back().sequence + 1 < segment->end_sequence()) {
      break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Log::ApplyRetention(absl::Time now, uint64_t keep_from) {
  std::vector<std::shared_ptr<Segment>> removed;
  {
    MutexLock lock(&mu_);
    const int64_t now_nanos = absl::ToUnixNanos(now);
    while (segments_.size() > 1) {
      const Segment& oldest = *segments_.front();
      // Not before it is sealed: Sync still has it.
      if (std::find(unsealed_.begin(), unsealed_.end(), segments_.front()) !=
          unsealed_.end()) {
        break;
      }
      const uint64_t bytes = closed_bytes_ + segments_.back()->size_bytes();
      const uint64_t events = next_sequence_ - oldest.first_sequence();
      const bool over_bytes =
          options_.max_bytes > 0 && bytes > options_.max_bytes;
      const bool over_events =
          options_.max_events > 0 && events > options_.max_events;
      const bool too_old = options_.max_age > absl::ZeroDuration() &&
                           now_nanos - oldest.last_time_nanos() >
                               absl::ToInt64Nanoseconds(options_.max_age);
      if (!over_bytes && !over_events && !too_old) break;
      // The oldest holds sequences up to the next segment's first.
      if (segments_[1]->first_sequence() > keep_from) break;
      closed_bytes_ -= oldest.size_bytes();
      removed.push_back(segments_.front());
      segments_.pop_front();
    }
  }
  if (removed.empty()) return 0;
  // Readers holding a removed segment keep reading it: unlink leaves the
  // open file until they let go.
  absl::Status status;
  for (const auto& segment : removed) {
    absl::Status log_removed = options_.fs->Remove(segment->path());
    absl::Status index_removed = options_.fs->Remove(segment->index_path());
    if (status.ok() && !log_removed.ok()) status = log_removed;
    if (status.ok() && !index_removed.ok() &&
        !absl::IsNotFound(index_removed)) {
      status = index_removed;
    }
  }
  absl::Status synced = options_.fs->SyncDirectory(options_.path);
  if (status.ok()) status = synced;
  EVENTBUS_RETURN_IF_ERROR(status);
  return static_cast<int>(removed.size());
}

uint64_t Log::first_sequence() const {
  MutexLock lock(&mu_);
  return segments_.empty()
             ? next_sequence_
             : std::min(next_sequence_, segments_.front()->first_sequence());
}

uint64_t Log::next_sequence() const {
  MutexLock lock(&mu_);
  return next_sequence_;
}

uint64_t Log::size_bytes() const {
  MutexLock lock(&mu_);
  return closed_bytes_ +
         (segments_.empty() ? 0 : segments_.back()->size_bytes());
}

uint64_t Log::segment_count() const {
  MutexLock lock(&mu_);
  return segments_.size();
}

absl::Status Log::health() const {
  MutexLock lock(&mu_);
  return stopped_.ok() ? absl::OkStatus() : Stopped(stopped_);
}

}  // namespace eventbus

#include "server/bus/ring.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"

namespace eventbus {
namespace {

absl::Status NotStored(uint64_t sequence, const absl::Status& cause) {
  return absl::UnavailableError(absl::StrCat(
      "sequence ", sequence, " was not stored: ", cause.message()));
}

}  // namespace

int LaneOf(v1::Priority priority) {
  switch (priority) {
    case v1::PRIORITY_HIGH:
      return kHighLane;
    case v1::PRIORITY_LOW:
      return kLowLane;
    default:
      return kNormalLane;
  }
}

v1::Priority PriorityOfLane(int lane) {
  switch (lane) {
    case kHighLane:
      return v1::PRIORITY_HIGH;
    case kLowLane:
      return v1::PRIORITY_LOW;
    default:
      return v1::PRIORITY_NORMAL;
  }
}

const char* Ring::CapacityKey(int lane) const {
  switch (lane) {
    case kHighLane:
      return options_.lanes.high != 0 ? "bus.lanes.high.capacity"
                                      : "bus.capacity";
    case kLowLane:
      return options_.lanes.low != 0 ? "bus.lanes.low.capacity"
                                     : "bus.capacity";
    default:
      return options_.lanes.normal != 0 ? "bus.lanes.normal.capacity"
                                        : "bus.capacity";
  }
}

uint64_t Ring::Lane::LowerBound(uint64_t sequence) const {
  uint64_t low = oldest_index();
  uint64_t high = count;
  while (low < high) {
    const uint64_t middle = low + (high - low) / 2;
    if (sequence_at(middle) < sequence) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

Ring::Ring(BusOptions options) : options_(std::move(options)) {
  {
    MutexLock lock(&mu_);
    const auto or_default = [&](uint64_t capacity) {
      return capacity != 0 ? capacity : options_.capacity;
    };
    lanes_[kHighLane].capacity = or_default(options_.lanes.high);
    lanes_[kNormalLane].capacity = or_default(options_.lanes.normal);
    lanes_[kLowLane].capacity = or_default(options_.lanes.low);
  }
  if (storage_.log == nullptr) return;
  {
    MutexLock lock(&mu_);
    base_ = next_sequence_ = storage_.log->next_sequence();
    visible_end_ = stored_end_ = next_sequence_;
  }
  committer_ = std::thread([this] { RunCommitter(); });
}

Ring::~Ring() { CloseStorage().IgnoreError(); }

absl::StatusOr<PublishResult> Ring::Append(std::shared_ptr<StoredEvent> event) {
  std::shared_ptr<const StoredEvent> evicted;
  Wakers wakers;
  Waiters released;
  absl::StatusOr<PublishAttempt> attempt;
  {
    MutexLock lock(&mu_);
    Lane& lane = lanes_[LaneOf(event->priority())];
    bool blocked = false;  // counted in blocked_publishers_ until done
    while (true) {
      attempt = AppendLocked(&event, &evicted, &wakers, &released);
      if (!attempt.ok() || attempt->published) break;
      if (!blocked) {
        ++blocked_publishers_;
        ++lane.blocked;
      }
      blocked = true;
      space_.WaitUntil(attempt->retry_by);
    }
    if (blocked) {
      --blocked_publishers_;
      --lane.blocked;
    }
  }
  Wake(wakers);
  Wake(released);
  if (!attempt.ok()) return attempt.status();
  PublishResult& result = *attempt->published;
  if (!result.stored) {
    MutexLock lock(&mu_);
    ++blocked_storers_;
    while (stored_end_ <= result.sequence && storage_error_.ok()) {
      stored_.WaitUntil(absl::InfiniteFuture());
    }
    --blocked_storers_;
    if (stored_end_ <= result.sequence) {
      return NotStored(result.sequence, storage_error_);
    }
    result.stored = true;
  }
  return std::move(result);
}

absl::StatusOr<PublishAttempt> Ring::TryAppend(
    std::shared_ptr<StoredEvent>* event, std::weak_ptr<PublishWaiter> waiter) {
  std::shared_ptr<const StoredEvent> evicted;
  Wakers wakers;
  Waiters released;
  absl::StatusOr<PublishAttempt> attempt;
  {
    MutexLock lock(&mu_);
    attempt = AppendLocked(event, &evicted, &wakers, &released);
    if (attempt.ok() && !attempt->published && !waiter.expired()) {
      // Once per waiter: a retry that is held again is already listed.
      Waiters& waiting = lanes_[LaneOf((*event)->priority())].waiting;
      const bool listed =
          std::any_of(waiting.begin(), waiting.end(), [&](const auto& w) {
            return !w.owner_before(waiter) && !waiter.owner_before(w);
          });
      if (!listed) waiting.push_back(std::move(waiter));
    }
  }
  Wake(wakers);
  Wake(released);
  return attempt;
}

absl::StatusOr<PublishAttempt> Ring::AppendLocked(
    std::shared_ptr<StoredEvent>* event,
    std::shared_ptr<const StoredEvent>* evicted, Wakers* wakers,
    Waiters* released) {
  if (closed_) {
    return absl::UnavailableError("the bus is draining; nothing published");
  }
  const uint64_t sequence = next_sequence_;
  const absl::Time now = options_.clock();
  const int l = LaneOf((*event)->priority());
  Lane& lane = lanes_[l];
  // The event this one overwrites, when its lane is full.
  // With a log nobody is held back for: a lapped reader reads the log.
  if (storage_.log == nullptr && lane.full() &&
      HeldBack(l, lane.count - lane.capacity)) {
    // A hold lasts while someone waits: publishers that gave up (a
    // deadline) leave expired waiters, and a later publish starts anew.
    // Each lane's hold is timed on its own.
    std::erase_if(lane.waiting, [](const auto& w) { return w.expired(); });
    if (!lane.held_since || (lane.waiting.empty() && lane.blocked == 0)) {
      lane.held_since = now;
    }
    const absl::Time retry_by = *lane.held_since + options_.max_block;
    if (now < retry_by) return PublishAttempt{.retry_by = retry_by};
    EndHoldersBehind(l, lane.count - lane.capacity);
    // The other waiting publishers may go on too.
    ReleasePublishers(released);
  }
  lane.held_since.reset();
  const int64_t seconds = absl::ToUnixSeconds(now);
  const int32_t nanos = static_cast<int32_t>(
      (now - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1));
  (*event)->Assign(sequence, seconds, nanos);
  if (storage_.log != nullptr) {
    // In sequence order, before anyone can see it; a failed write consumes
    // nothing.
    EVENTBUS_RETURN_IF_ERROR(storage_.log->Append(
        sequence, absl::ToUnixNanos(now), (*event)->encoded()));
  }
  ++next_sequence_;
  Slot slot{.event = std::move(*event),
            .sequence = sequence,
            .before = {lanes_[0].count, lanes_[1].count, lanes_[2].count}};
  if (lane.slots.size() < lane.capacity) {
    lane.slots.push_back(std::move(slot));
  } else {
    Slot& old = lane.slots[lane.next_slot];
    lane.last_evicted = old.sequence;
    *evicted = std::move(old.event);
    old = std::move(slot);
  }
  if (lane.count++ == 0) {
    // A lane's first event: the lanes in use stay most urgent first.
    used_lanes_[used_lane_count_++] = static_cast<uint8_t>(l);
    std::sort(used_lanes_.begin(), used_lanes_.begin() + used_lane_count_);
  }
  if (++lane.next_slot == lane.capacity) lane.next_slot = 0;
  const bool stored = !SyncEveryAppend();
  if (stored) {
    visible_end_ = stored_end_ = next_sequence_;
    wakers->swap(armed_);
    if (blocked_readers_ > 0) changed_.SignalAll();
  } else if (committer_idle_) {
    committer_idle_ = false;  // one signal per wait
    unsynced_.Signal();
  }
  return PublishAttempt{.published = PublishResult{.sequence = sequence,
                                                   .subscribers = subscribers_,
                                                   .stored = stored}};
}

bool Ring::HeldBack(int l, uint64_t index) {
  Lane& lane = lanes_[l];
  // Positions only grow, so a floor above `index` needs no recount.
  if (index < lane.holder_floor) return false;
  lane.holder_floor = LowestHolderNext(l);
  return index >= lane.holder_floor;
}

uint64_t Ring::LowestHolderNext(int lane) const {
  uint64_t lowest = UINT64_MAX;
  for (const RingReader* holder : holders_) {
    lowest = std::min(lowest, holder->next[lane]);
  }
  return lowest;
}

void Ring::EndHoldersBehind(int l, uint64_t index) {
  std::erase_if(holders_, [&](RingReader* holder) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                              mu_) {
    if (holder->next[l] > index) return false;
    holder->ended = absl::ResourceExhaustedError(absl::StrCat(
        "this subscriber held publishers back for longer than bus.max_block (",
        absl::FormatDuration(options_.max_block), "); resume from sequence ",
        PositionOf(*holder)));
    return true;
  });
  for (int lane = 0; lane < kLanes; ++lane) {
    lanes_[lane].holder_floor = LowestHolderNext(lane);
  }
}

void Ring::ReleasePublishers(Waiters* waiters) {
  for (Lane& lane : lanes_) {
    waiters->insert(waiters->end(),
                    std::make_move_iterator(lane.waiting.begin()),
                    std::make_move_iterator(lane.waiting.end()));
    lane.waiting.clear();
  }
  if (blocked_publishers_ > 0) space_.SignalAll();
}

void Ring::ReleaseLane(Lane& lane, Waiters* waiters) {
  waiters->insert(waiters->end(), std::make_move_iterator(lane.waiting.begin()),
                  std::make_move_iterator(lane.waiting.end()));
  lane.waiting.clear();
  // Blocked publishers of other lanes wake too, and wait again.
  if (lane.blocked > 0) space_.SignalAll();
}

absl::StatusOr<std::unique_ptr<RingReader>> Ring::Register(
    const SubscribeOptions& options) {
  const SubscribeOptions::Start start = options.start;
  const uint64_t from_sequence = options.from_sequence;
  const Overflow overflow = options.overflow;
  auto reader = std::make_unique<RingReader>();
  reader->description = std::make_shared<const RingReader::Description>(
      RingReader::Description{.name = options.name,
                              .peer = options.peer,
                              .filter = options.filter,
                              .start_time = options_.clock()});
  MutexLock lock(&mu_);
  if (closed_) {
    return absl::UnavailableError("the bus is draining; not subscribing");
  }
  if (subscribers_ >= options_.max_subscribers) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "subscriber limit reached: ", subscribers_,
        " subscribers, server.max_subscribers is ", options_.max_subscribers));
  }
  reader->overflow = overflow;
  switch (start) {
    case SubscribeOptions::Start::kNext:
      Place(reader.get(), next_sequence_, /*earliest=*/false);
      break;
    case SubscribeOptions::Start::kEarliest:
      Place(reader.get(), OldestKept(), /*earliest=*/true);
      break;
    case SubscribeOptions::Start::kSequence:
      if (from_sequence == 0) {
        return absl::InvalidArgumentError(
            "from_sequence must be >= 1 (sequences start at 1)");
      }
      if (from_sequence > next_sequence_) {
        return absl::OutOfRangeError(absl::StrCat(
            "from_sequence ", from_sequence,
            " is beyond the next sequence to be published, ", next_sequence_));
      }
      Place(reader.get(), from_sequence, /*earliest=*/false);
      break;
  }
  if (overflow == Overflow::kBlock && storage_.log == nullptr) {
    holders_.push_back(reader.get());
    for (int l = 0; l < kLanes; ++l) {
      lanes_[l].holder_floor =
          std::min(lanes_[l].holder_floor, reader->next[l]);
    }
  }
  ++subscribers_;
  reader->index = readers_.size();
  readers_.push_back(reader.get());
  return reader;
}

void Ring::Place(RingReader* reader, uint64_t sequence, bool earliest) {
  if (storage_.log != nullptr) {
    // In global order from `sequence`; what the log no longer has is lost.
    const uint64_t oldest = OldestKept();
    if (sequence < oldest) {
      reader->start_lags.push_back(Lag{sequence, oldest - 1});
      sequence = oldest;
    }
    reader->floor.fill(sequence);
    reader->next_known = false;
    return;
  }
  if (earliest) {
    // Every lane from its oldest event: nothing is lost before that.
    for (int l = 0; l < kLanes; ++l) {
      const Lane& lane = lanes_[l];
      reader->next[l] = lane.oldest_index();
      reader->floor[l] = lane.count > 0 ? lane.sequence_at(lane.oldest_index())
                                        : next_sequence_;
    }
    return;
  }
  reader->floor.fill(sequence);
  bool lapped = false;
  for (const Lane& lane : lanes_) lapped |= lane.last_evicted >= sequence;
  if (!lapped) {
    for (int l = 0; l < kLanes; ++l) {
      reader->next[l] = lanes_[l].LowerBound(sequence);
    }
    return;
  }
  // Some lane lost events numbered `sequence` or later. The first event
  // retained from there on (in any lane) says how many events of each lane
  // came before it; everything between `sequence` and it is lost, whichever
  // lane it was in.
  const Slot* first = nullptr;
  for (const Lane& lane : lanes_) {
    const uint64_t index = lane.LowerBound(sequence);
    if (index < lane.count &&
        (first == nullptr || lane.sequence_at(index) < first->sequence)) {
      first = &lane.at(index);
    }
  }
  // The newest event is always retained, and it is at or after `sequence`
  // since some lane lost one there.
  const uint64_t first_sequence = first->sequence;
  if (first_sequence > sequence) {
    reader->start_lags.push_back(Lag{sequence, first_sequence - 1});
  }
  for (int l = 0; l < kLanes; ++l) {
    const Lane& lane = lanes_[l];
    reader->next[l] = first->before[l];
    reader->floor[l] = first_sequence;
    if (lane.oldest_index() > first->before[l]) {
      // This lane's events between the first retained one and its own
      // oldest are lost too.
      const uint64_t oldest = lane.sequence_at(lane.oldest_index());
      reader->start_lags.push_back(
          Lag{.first_sequence = first_sequence + 1,
              .last_sequence = oldest - 1,
              .priority = PriorityOfLane(l),
              .events = lane.oldest_index() - first->before[l]});
      reader->next[l] = lane.oldest_index();
      reader->floor[l] = oldest;
    }
  }
}

uint64_t Ring::PositionOf(const RingReader& reader) const {
  // Read from the log last: its floors say.
  if (!reader.next_known) return reader.floor[0];
  uint64_t position = next_sequence_;
  for (int l = 0; l < kLanes; ++l) {
    const Lane& lane = lanes_[l];
    const uint64_t next = reader.next[l];
    // Lapped: from where the loss to tell starts.
    if (next < lane.oldest_index()) {
      position = std::min(position, reader.floor[l]);
    } else if (next < lane.count) {
      position = std::min(position, lane.sequence_at(next));
    }
  }
  return position;
}

void Ring::FindNext(RingReader* reader) {
  for (int l = 0; l < kLanes; ++l) {
    reader->next[l] = lanes_[l].LowerBound(reader->floor[l]);
  }
  reader->next_known = true;
}

void Ring::Unregister(RingReader* reader) {
  Waiters waiters;
  {
    MutexLock lock(&mu_);
    --subscribers_;
    departed_received_ += reader->received.load(std::memory_order_relaxed);
    departed_missed_ += reader->missed.load(std::memory_order_relaxed);
    RingReader* last = readers_.back();
    last->index = reader->index;
    readers_[reader->index] = last;
    readers_.pop_back();
    changed_.SignalAll();
    if (std::erase(holders_, reader) > 0) {
      for (int l = 0; l < kLanes; ++l) {
        lanes_[l].holder_floor = LowestHolderNext(l);
      }
      ReleasePublishers(&waiters);
    }
  }
  Wake(waiters);
}

std::vector<SubscriberSnapshot> Ring::Subscribers() const {
  struct Listed {
    std::shared_ptr<const RingReader::Description> description;
    Overflow overflow;
    uint64_t cursor, received, missed;
  };
  std::vector<Listed> listed;
  {
    MutexLock lock(&mu_);
    listed.reserve(readers_.size());
    for (const RingReader* reader : readers_) {
      listed.push_back(
          Listed{.description = reader->description,
                 .overflow = reader->overflow,
                 .cursor = PositionOf(*reader),
                 .received = reader->received.load(std::memory_order_relaxed),
                 .missed = reader->missed.load(std::memory_order_relaxed)});
    }
  }
  // The copies are made outside the lock that publishers take.
  std::vector<SubscriberSnapshot> snapshots;
  snapshots.reserve(listed.size());
  for (const Listed& one : listed) {
    snapshots.push_back(
        SubscriberSnapshot{.name = one.description->name,
                           .peer = one.description->peer,
                           .start_time = one.description->start_time,
                           .filter = one.description->filter,
                           .overflow = one.overflow,
                           .next_sequence = one.cursor,
                           .received = one.received,
                           .missed = one.missed});
  }
  std::stable_sort(
      snapshots.begin(), snapshots.end(),
      [](const SubscriberSnapshot& a, const SubscriberSnapshot& b) {
        return a.start_time < b.start_time;
      });
  return snapshots;
}

BusStats Ring::Stats() const {
  BusStats stats;
  {
    MutexLock lock(&mu_);
    stats.next_sequence = next_sequence_;
    stats.oldest_sequence = OldestKept();
    for (int l = 0; l < kLanes; ++l) {
      stats.lane_capacity[l] = lanes_[l].capacity;
      stats.lane_events[l] = lanes_[l].slots.size();
      stats.capacity += lanes_[l].capacity;
      stats.ring_events += lanes_[l].slots.size();
    }
    stats.subscribers = subscribers_;
    stats.blocked_publishers = blocked_publishers_;
    stats.published = next_sequence_ - base_;
    stats.delivered = departed_received_;
    stats.missed = departed_missed_;
    for (const RingReader* reader : readers_) {
      stats.delivered += reader->received.load(std::memory_order_relaxed);
      stats.missed += reader->missed.load(std::memory_order_relaxed);
    }
  }
  if (storage_.log != nullptr) {
    stats.durable = true;
    stats.log_bytes = storage_.log->size_bytes();
    stats.log_segments = storage_.log->segment_count();
  }
  return stats;
}

uint64_t Ring::CursorOf(const RingReader* reader) const {
  MutexLock lock(&mu_);
  return PositionOf(*reader);
}

uint64_t Ring::OldestRetained() const {
  uint64_t oldest = next_sequence_;
  for (const Lane& lane : lanes_) {
    if (lane.count > 0) {
      oldest = std::min(oldest, lane.sequence_at(lane.oldest_index()));
    }
  }
  return oldest;
}

uint64_t Ring::CoveredFrom() const {
  uint64_t covered = base_;
  for (const Lane& lane : lanes_) {
    covered = std::max(covered, lane.last_evicted + 1);
  }
  return covered;
}

uint64_t Ring::OldestKept() const {
  const uint64_t in_ring = OldestRetained();
  if (storage_.log == nullptr) return in_ring;
  return std::min(in_ring, storage_.log->first_sequence());
}

void Ring::Read(RingReader* reader, const ReadLimits& limits,
                ReadBatch* batch) {
  batch->Clear();
  Waiters waiters;
  uint64_t log_end = 0;  // set: read the log up to there instead
  {
    MutexLock lock(&mu_);
    if (!reader->ended.ok()) {
      batch->ended = reader->ended;
      return;
    }
    if (!reader->start_lags.empty()) {
      // Told first, one per read.
      batch->lag = reader->start_lags.front();
      reader->start_lags.erase(reader->start_lags.begin());
      if (!reader->start_lags.empty()) return;
    }
    if (storage_.log != nullptr) {
      const uint64_t covered = CoveredFrom();
      const uint64_t position = reader->floor[0];
      if (position < covered) {
        // Behind the ring: the log has it (a loss from before the start is
        // told first, alone).
        if (batch->lag) return;
        log_end = std::min(covered, visible_end_);
        if (position >= log_end) return;
      } else if (!reader->next_known) {
        FindNext(reader);
      }
    } else {
      // Only kDropOldest and kDisconnect readers are ever lapped; one loss
      // is told per read, the most urgent lane's first.
      for (const int l : UsedLanes()) {
        const Lane& lane = lanes_[l];
        if (reader->next[l] >= lane.oldest_index()) continue;
        if (batch->lag) return;
        const uint64_t oldest = lane.sequence_at(lane.oldest_index());
        if (reader->overflow == Overflow::kDisconnect) {
          reader->ended = absl::ResourceExhaustedError(absl::StrCat(
              "this subscriber fell more than ", CapacityKey(l), " (",
              lane.capacity, ") ", v1::Priority_Name(PriorityOfLane(l)),
              " events behind and its overflow policy is DISCONNECT; "
              "resume from sequence ",
              PositionOf(*reader)));
          batch->ended = reader->ended;
          return;
        }
        batch->lag = Lag{.first_sequence = reader->floor[l],
                         .last_sequence = oldest - 1,
                         .priority = PriorityOfLane(l),
                         .events = lane.oldest_index() - reader->next[l]};
        reader->next[l] = lane.oldest_index();
        reader->floor[l] = oldest;
      }
    }
    if (log_end == 0) ReadFromRing(reader, limits, batch, &waiters);
  }
  if (log_end != 0) ReadFromLog(reader, log_end, limits, batch);
  Wake(waiters);
}

void Ring::ReadFromRing(RingReader* reader, const ReadLimits& limits,
                        ReadBatch* batch, Waiters* waiters) {
  const std::array<uint64_t, kLanes> from = reader->next;
  uint64_t pending = 0;
  int only = -1;  // the one lane with events to read, kLanes for several
  for (const int l : UsedLanes()) {
    const uint64_t unread = lanes_[l].count - from[l];
    if (unread == 0) continue;
    pending += unread;
    only = only == -1 ? l : kLanes;
  }
  size_t bytes = 0;
  // Adds the next event of lane `l`; false when the batch is full.
  const auto take = [&](int l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Slot& slot = lanes_[l].at(reader->next[l]);
    bytes += slot.event->encoded().size();
    if (bytes > limits.max_bytes && !batch->events.empty()) return false;
    batch->events.push_back(slot.event);
    ++reader->next[l];
    reader->floor[l] = slot.sequence + 1;
    return true;
  };
  // Whether the next event of lane `l` is there to read.
  const auto visible = [&](int l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Lane& lane = lanes_[l];
    return reader->next[l] < lane.count &&
           lane.sequence_at(reader->next[l]) < visible_end_;
  };
  if (only == -1) {
    // Nothing to read.
  } else if (only < kLanes) {
    // One lane (the usual case without priorities): in order, unmerged,
    // stepping through the slots without a division per event.
    const Lane& lane = lanes_[only];
    uint64_t index = reader->next[only];
    size_t slot = lane.SlotOf(index);
    uint64_t last = 0;
    while (index < lane.count && batch->events.size() < limits.max_events) {
      const Slot& next = lane.slots[slot];
      if (next.sequence >= visible_end_) break;
      bytes += next.event->encoded().size();
      if (bytes > limits.max_bytes && !batch->events.empty()) break;
      batch->events.push_back(next.event);
      last = next.sequence;
      ++index;
      if (++slot == lane.capacity) slot = 0;
    }
    if (index > reader->next[only]) {
      reader->next[only] = index;
      reader->floor[only] = last + 1;
    }
  } else if (storage_.log != nullptr || pending <= limits.max_events) {
    // Keeping up (or with a log): in global order, merging the lanes.
    while (batch->events.size() < limits.max_events) {
      int lowest = -1;
      uint64_t lowest_sequence = visible_end_;
      for (const int l : UsedLanes()) {
        const Lane& lane = lanes_[l];
        if (reader->next[l] >= lane.count) continue;
        const uint64_t sequence = lane.sequence_at(reader->next[l]);
        if (sequence < lowest_sequence) {
          lowest = l;
          lowest_sequence = sequence;
        }
      }
      if (lowest < 0 || !take(lowest)) break;
    }
  } else {
    // Behind: the lanes by kSchedule, skipping those with nothing visible.
    size_t idle_turns = 0;
    while (batch->events.size() < limits.max_events &&
           idle_turns < kSchedule.size()) {
      const int l = kSchedule[reader->turn];
      if (visible(l)) {
        if (!take(l)) break;  // its turn again next time
        idle_turns = 0;
      } else {
        ++idle_turns;
      }
      reader->turn = (reader->turn + 1) % kSchedule.size();
    }
  }
  // A lane read to its end: its next event comes after every one there is.
  for (int l = 0; l < kLanes; ++l) {
    if (reader->next[l] == lanes_[l].count) reader->floor[l] = next_sequence_;
  }
  if (storage_.log != nullptr) reader->floor.fill(PositionOf(*reader));
  // The slowest holder may have made room for the next append.
  if (reader->overflow == Overflow::kBlock) {
    for (int l = 0; l < kLanes; ++l) {
      Lane& lane = lanes_[l];
      if (reader->next[l] == from[l] || from[l] > lane.holder_floor ||
          (lane.waiting.empty() && lane.blocked == 0)) {
        continue;
      }
      lane.holder_floor = LowestHolderNext(l);
      if (!lane.full() || lane.holder_floor > lane.count - lane.capacity) {
        ReleaseLane(lane, waiters);
      }
    }
  }
  batch->end_of_stream = closed_ && batch->empty() && AllVisible();
}

void Ring::ReadFromLog(RingReader* reader, uint64_t end,
                       const ReadLimits& limits, ReadBatch* batch) {
  uint64_t from = 0;
  {
    MutexLock lock(&mu_);
    from = reader->floor[0];  // only this reader's thread moves it
  }
  std::vector<LogRecord> records;
  const absl::Status read = storage_.log->Read(from, end, limits.max_events,
                                               limits.max_bytes, &records);
  MutexLock lock(&mu_);
  if (!reader->ended.ok()) {
    batch->ended = reader->ended;
    return;
  }
  if (!read.ok()) {
    reader->ended = absl::DataLossError(
        absl::StrCat("cannot read sequence ", from,
                     " from the durable log: ", read.message()));
    batch->ended = reader->ended;
    return;
  }
  // What the log no longer has (retention, a repaired segment) is lost.
  const uint64_t first = records.empty() ? end : records.front().sequence;
  if (first > from) {
    if (reader->overflow == Overflow::kDisconnect) {
      reader->ended = absl::ResourceExhaustedError(absl::StrCat(
          "storage retention removed sequences ", from, "..", first - 1,
          " before this subscriber read them and its overflow policy is "
          "DISCONNECT; resume from sequence ",
          from));
      batch->ended = reader->ended;
      return;
    }
    batch->lag = Lag{from, first - 1};
  }
  reader->floor.fill(records.empty() ? first : records.back().sequence + 1);
  reader->next_known = false;
  for (LogRecord& record : records) {
    batch->events.push_back(StoredEvent::FromLog(
        record.sequence, record.time_nanos, std::move(record.event)));
  }
}

bool Ring::ReadableBy(const RingReader& reader) const {
  if (!reader.ended.ok() || !reader.start_lags.empty() ||
      (closed_ && AllVisible())) {
    return true;
  }
  if (storage_.log != nullptr &&
      (!reader.next_known || reader.floor[0] < CoveredFrom())) {
    return reader.floor[0] < visible_end_;
  }
  for (const int l : UsedLanes()) {
    const Lane& lane = lanes_[l];
    const uint64_t next = reader.next[l];
    // Lapped (a loss to tell), or an event to read.
    if (next < lane.oldest_index() ||
        (next < lane.count && lane.sequence_at(next) < visible_end_)) {
      return true;
    }
  }
  return false;
}

bool Ring::Arm(const RingReader* reader,
               std::weak_ptr<SubscriptionWaker> waker) {
  MutexLock lock(&mu_);
  if (ReadableBy(*reader)) return false;
  armed_.push_back(std::move(waker));
  return true;
}

bool Ring::AwaitReadable(const RingReader* reader, absl::Time deadline) {
  MutexLock lock(&mu_);
  ++blocked_readers_;
  while (!ReadableBy(*reader) && changed_.WaitUntil(deadline)) {
  }
  --blocked_readers_;
  return ReadableBy(*reader);
}

void Ring::Close() {
  Wakers wakers;
  Waiters waiters;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    wakers.swap(armed_);
    changed_.SignalAll();
    ReleasePublishers(&waiters);
  }
  Wake(wakers);
  Wake(waiters);
}

bool Ring::AwaitNoSubscribers(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (subscribers_ > 0 && changed_.WaitUntil(deadline)) {
  }
  return subscribers_ == 0;
}

uint64_t Ring::subscriber_count() const {
  MutexLock lock(&mu_);
  return subscribers_;
}

uint64_t Ring::blocked_publishers() const {
  MutexLock lock(&mu_);
  return blocked_publishers_;
}

uint64_t Ring::next_sequence() const {
  MutexLock lock(&mu_);
  return next_sequence_;
}

uint64_t Ring::stored_end() const {
  MutexLock lock(&mu_);
  return stored_end_;
}

uint64_t Ring::oldest_sequence() const {
  MutexLock lock(&mu_);
  return OldestKept();
}

absl::StatusOr<bool> Ring::AwaitStored(uint64_t sequence,
                                       std::weak_ptr<PublishWaiter> waiter) {
  MutexLock lock(&mu_);
  if (sequence < stored_end_) return true;
  if (!storage_error_.ok()) return NotStored(sequence, storage_error_);
  store_waiters_.emplace_back(sequence, std::move(waiter));
  return false;
}

void Ring::ReleaseStoreWaiters(uint64_t end, Waiters* waiters) {
  std::erase_if(store_waiters_, [&](auto& entry) {
    if (entry.first >= end) return false;
    waiters->push_back(std::move(entry.second));
    return true;
  });
}

void Ring::CommitLocked(uint64_t end, Wakers* wakers, Waiters* waiters) {
  if (end <= stored_end_) return;
  stored_end_ = end;
  visible_end_ = std::max(visible_end_, end);
  wakers->swap(armed_);
  if (blocked_readers_ > 0) changed_.SignalAll();
  if (blocked_storers_ > 0) stored_.SignalAll();
  ReleaseStoreWaiters(end, waiters);
}

void Ring::StorageFailedLocked(const absl::Status& error, Wakers* wakers,
                               Waiters* waiters) {
  if (storage_error_.ok()) storage_error_ = error;
  // Nothing more becomes visible: readers at the end of a closed bus end.
  wakers->swap(armed_);
  changed_.SignalAll();
  stored_.SignalAll();
  ReleaseStoreWaiters(UINT64_MAX, waiters);
}

void Ring::RunCommitter() {
  const bool every_append = SyncEveryAppend();
  const bool sync_data = storage_.fsync != StorageOptions::Fsync::kNever;
  absl::Time next_retention = absl::Now() + storage_.retention_period;
  absl::Time next_sync = absl::Now() + storage_.interval;
  uint64_t synced_end = 0;  // what the log had when the ring started
  {
    MutexLock lock(&mu_);
    synced_end = base_;
  }
  while (true) {
    bool sync = false;
    {
      MutexLock lock(&mu_);
      const absl::Time wake = every_append || !sync_data
                                  ? next_retention
                                  : std::min(next_retention, next_sync);
      while (!committer_stop_ && absl::Now() < wake &&
             !(every_append && next_sequence_ > synced_end &&
               storage_error_.ok())) {
        committer_idle_ = true;
        unsynced_.WaitUntil(wake);
        committer_idle_ = false;
      }
      if (committer_stop_) return;
      sync = every_append ? next_sequence_ > synced_end && storage_error_.ok()
                          : sync_data && absl::Now() >= next_sync;
    }
    const absl::Time now = absl::Now();
    if (sync) {
      absl::StatusOr<uint64_t> through = storage_.log->Sync(/*data=*/true);
      Wakers wakers;
      Waiters waiters;
      {
        MutexLock lock(&mu_);
        if (through.ok()) {
          synced_end = *through;
          if (every_append) CommitLocked(*through, &wakers, &waiters);
        } else {
          StorageFailedLocked(through.status(), &wakers, &waiters);
        }
      }
      Wake(wakers);
      Wake(waiters);
      next_sync = now + storage_.interval;
    }
    if (now >= next_retention) {
      // Closes full segments even when the data is never synced.
      if (!sync_data) storage_.log->Sync(/*data=*/false).IgnoreError();
      // A failure is tried again next time; the log goes on meanwhile.
      const uint64_t keep_from =
          storage_.retention_floor ? storage_.retention_floor() : UINT64_MAX;
      const absl::StatusOr<int> removed =
          storage_.log->ApplyRetention(now, keep_from);
      if (storage_.on_retention && (!removed.ok() || *removed > 0)) {
        storage_.on_retention(removed, storage_.log->first_sequence());
      }
      next_retention = now + storage_.retention_period;
    }
  }
}

absl::Status Ring::CloseStorage() {
  if (storage_.log == nullptr) return absl::OkStatus();
  {
    MutexLock lock(&mu_);
    committer_stop_ = true;
    unsynced_.SignalAll();
  }
  if (committer_.joinable()) committer_.join();
  absl::StatusOr<uint64_t> through = storage_.log->Close();
  Wakers wakers;
  Waiters waiters;
  absl::Status status;
  {
    MutexLock lock(&mu_);
    if (through.ok()) {
      CommitLocked(*through, &wakers, &waiters);
    } else {
      StorageFailedLocked(through.status(), &wakers, &waiters);
    }
    status = storage_error_;
  }
  Wake(wakers);
  Wake(waiters);
  return status;
}

void Ring::Wake(const Wakers& wakers) {
  for (const auto& weak : wakers) {
    if (auto waker = weak.lock()) waker->OnReadable();
  }
}

void Ring::Wake(const Waiters& waiters) {
  for (const auto& weak : waiters) {
    if (auto waiter = weak.lock()) waiter->OnMayPublish();
  }
}

}  // namespace eventbus

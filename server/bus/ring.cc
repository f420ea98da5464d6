#include "server/bus/ring.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace eventbus {

absl::StatusOr<PublishResult> Ring::Append(std::shared_ptr<StoredEvent> event) {
  std::shared_ptr<const StoredEvent> evicted;
  Wakers wakers;
  Waiters released;
  absl::StatusOr<PublishAttempt> attempt;
  {
    MutexLock lock(&mu_);
    bool blocked = false;  // counted in blocked_publishers_ until done
    while (true) {
      attempt = AppendLocked(&event, &evicted, &wakers, &released);
      if (!attempt.ok() || attempt->published) break;
      if (!blocked) ++blocked_publishers_;
      blocked = true;
      space_.WaitUntil(attempt->retry_by);
    }
    if (blocked) --blocked_publishers_;
  }
  Wake(wakers);
  Wake(released);
  if (!attempt.ok()) return attempt.status();
  return *std::move(attempt->published);
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
      const bool listed =
          std::any_of(waiting_.begin(), waiting_.end(), [&](const auto& w) {
            return !w.owner_before(waiter) && !waiter.owner_before(w);
          });
      if (!listed) waiting_.push_back(std::move(waiter));
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
  // The event this one overwrites, when the ring is full.
  if (sequence > options_.capacity && HeldBack(sequence - options_.capacity)) {
    // A hold lasts while someone waits: publishers that gave up (a
    // deadline) leave expired waiters, and a later publish starts anew.
    std::erase_if(waiting_, [](const auto& w) { return w.expired(); });
    if (!held_since_ || (waiting_.empty() && blocked_publishers_ == 0)) {
      held_since_ = now;
    }
    const absl::Time retry_by = *held_since_ + options_.max_block;
    if (now < retry_by) return PublishAttempt{.retry_by = retry_by};
    EndHoldersBehind(sequence - options_.capacity);
    // The other waiting publishers may go on too.
    ReleasePublishers(released);
  }
  held_since_.reset();
  const int64_t seconds = absl::ToUnixSeconds(now);
  const int32_t nanos = static_cast<int32_t>(
      (now - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1));
  (*event)->Assign(sequence, seconds, nanos);
  ++next_sequence_;
  const size_t slot = (sequence - 1) % options_.capacity;
  if (slot == slots_.size()) {
    slots_.push_back(std::move(*event));
  } else {
    *evicted = std::exchange(slots_[slot], std::move(*event));
  }
  wakers->swap(armed_);
  if (blocked_readers_ > 0) changed_.SignalAll();
  return PublishAttempt{.published = PublishResult{
                            .sequence = sequence, .subscribers = subscribers_}};
}

bool Ring::HeldBack(uint64_t sequence) {
  // Cursors only grow, so a floor above `sequence` needs no recount.
  if (sequence < holder_floor_) return false;
  holder_floor_ = LowestHolderCursor();
  return sequence >= holder_floor_;
}

uint64_t Ring::LowestHolderCursor() const {
  uint64_t lowest = UINT64_MAX;
  for (const RingReader* holder : holders_) {
    lowest = std::min(lowest, holder->cursor);
  }
  return lowest;
}

void Ring::EndHoldersBehind(uint64_t sequence) {
  std::erase_if(holders_, [&](RingReader* holder) {
    if (holder->cursor > sequence) return false;
    holder->ended = absl::ResourceExhaustedError(absl::StrCat(
        "this subscriber held publishers back for longer than bus.max_block (",
        absl::FormatDuration(options_.max_block), "); resume from sequence ",
        holder->cursor));
    return true;
  });
  holder_floor_ = LowestHolderCursor();
}

void Ring::ReleasePublishers(Waiters* waiters) {
  waiters->swap(waiting_);
  if (blocked_publishers_ > 0) space_.SignalAll();
}

absl::StatusOr<std::unique_ptr<RingReader>> Ring::Register(
    SubscribeOptions::Start start, uint64_t from_sequence, Overflow overflow) {
  MutexLock lock(&mu_);
  if (closed_) {
    return absl::UnavailableError("the bus is draining; not subscribing");
  }
  if (subscribers_ >= options_.max_subscribers) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "subscriber limit reached: ", subscribers_,
        " subscribers, server.max_subscribers is ", options_.max_subscribers));
  }
  auto reader = std::make_unique<RingReader>();
  reader->overflow = overflow;
  reader->cursor = next_sequence_;
  switch (start) {
    case SubscribeOptions::Start::kNext:
      break;
    case SubscribeOptions::Start::kEarliest:
      reader->cursor = OldestRetained();
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
      reader->cursor = from_sequence;
      break;
  }
  const uint64_t oldest = OldestRetained();
  if (overflow != Overflow::kDropOldest && reader->cursor < oldest) {
    // Lost before it started: reported, not held back or disconnected for.
    reader->start_lag = Lag{reader->cursor, oldest - 1};
    reader->cursor = oldest;
  }
  if (overflow == Overflow::kBlock) {
    holders_.push_back(reader.get());
    holder_floor_ = std::min(holder_floor_, reader->cursor);
  }
  ++subscribers_;
  return reader;
}

void Ring::Unregister(RingReader* reader) {
  Waiters waiters;
  {
    MutexLock lock(&mu_);
    --subscribers_;
    changed_.SignalAll();
    if (std::erase(holders_, reader) > 0) {
      holder_floor_ = LowestHolderCursor();
      ReleasePublishers(&waiters);
    }
  }
  Wake(waiters);
}

uint64_t Ring::CursorOf(const RingReader* reader) const {
  MutexLock lock(&mu_);
  return reader->cursor;
}

uint64_t Ring::OldestRetained() const {
  return next_sequence_ > options_.capacity ? next_sequence_ - options_.capacity
                                            : 1;
}

void Ring::Read(RingReader* reader, const ReadLimits& limits,
                ReadBatch* batch) {
  batch->Clear();
  Waiters waiters;
  {
    MutexLock lock(&mu_);
    if (!reader->ended.ok()) {
      batch->ended = reader->ended;
      return;
    }
    batch->lag = std::exchange(reader->start_lag, std::nullopt);
    const uint64_t oldest = OldestRetained();
    if (reader->cursor < oldest) {
      // Only kDropOldest and kDisconnect readers are ever lapped.
      if (reader->overflow == Overflow::kDisconnect) {
        // A loss from before the start is told first; the end comes next.
        if (batch->lag) return;
        reader->ended = absl::ResourceExhaustedError(absl::StrCat(
            "this subscriber fell more than bus.capacity (", options_.capacity,
            ") events behind and its overflow policy is DISCONNECT; resume "
            "from sequence ",
            reader->cursor));
        batch->Clear();
        batch->ended = reader->ended;
        return;
      }
      batch->lag = Lag{reader->cursor, oldest - 1};
      reader->cursor = oldest;
    }
    const uint64_t from = reader->cursor;
    size_t bytes = 0;
    while (reader->cursor < next_sequence_ &&
           batch->events.size() < limits.max_events) {
      const auto& event = slots_[(reader->cursor - 1) % options_.capacity];
      bytes += event->encoded().size();
      if (bytes > limits.max_bytes && !batch->events.empty()) break;
      batch->events.push_back(event);
      ++reader->cursor;
    }
    // The slowest holder may have made room for the next append.
    if (reader->overflow == Overflow::kBlock && reader->cursor > from &&
        from <= holder_floor_ &&
        (!waiting_.empty() || blocked_publishers_ > 0)) {
      holder_floor_ = LowestHolderCursor();
      if (next_sequence_ <= options_.capacity ||
          holder_floor_ > next_sequence_ - options_.capacity) {
        ReleasePublishers(&waiters);
      }
    }
    batch->end_of_stream = closed_ && batch->empty();
  }
  Wake(waiters);
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

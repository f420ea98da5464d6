#include "server/bus/ring.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace eventbus {

absl::StatusOr<PublishResult> Ring::Append(std::shared_ptr<StoredEvent> event) {
  PublishResult result;
  std::shared_ptr<const StoredEvent> evicted;
  Wakers wakers;
  {
    MutexLock lock(&mu_);
    if (closed_) {
      return absl::UnavailableError("the bus is draining; nothing published");
    }
    const absl::Time now = options_.clock();
    const int64_t seconds = absl::ToUnixSeconds(now);
    const int32_t nanos = static_cast<int32_t>(
        (now - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1));
    const uint64_t sequence = next_sequence_;
    event->Assign(sequence, seconds, nanos);
    ++next_sequence_;
    const size_t slot = (sequence - 1) % options_.capacity;
    if (slot == slots_.size()) {
      slots_.push_back(std::move(event));
    } else {
      evicted = std::exchange(slots_[slot], std::move(event));
    }
    result.sequence = sequence;
    result.subscribers = subscribers_;
    wakers.swap(armed_);
    if (blocked_readers_ > 0) changed_.SignalAll();
  }
  Wake(wakers);
  return result;
}

absl::StatusOr<uint64_t> Ring::Register(SubscribeOptions::Start start,
                                        uint64_t from_sequence) {
  MutexLock lock(&mu_);
  if (closed_) {
    return absl::UnavailableError("the bus is draining; not subscribing");
  }
  if (subscribers_ >= options_.max_subscribers) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "subscriber limit reached: ", subscribers_,
        " subscribers, server.max_subscribers is ", options_.max_subscribers));
  }
  uint64_t cursor = next_sequence_;
  switch (start) {
    case SubscribeOptions::Start::kNext:
      break;
    case SubscribeOptions::Start::kEarliest:
      cursor = OldestRetained();
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
      cursor = from_sequence;
      break;
  }
  ++subscribers_;
  return cursor;
}

void Ring::Unregister() {
  MutexLock lock(&mu_);
  --subscribers_;
  changed_.SignalAll();
}

uint64_t Ring::OldestRetained() const {
  return next_sequence_ > options_.capacity ? next_sequence_ - options_.capacity
                                            : 1;
}

void Ring::Read(uint64_t* cursor, const ReadLimits& limits, ReadBatch* batch) {
  batch->Clear();
  MutexLock lock(&mu_);
  const uint64_t oldest = OldestRetained();
  if (*cursor < oldest) {
    batch->lag = Lag{*cursor, oldest - 1};
    *cursor = oldest;
  }
  size_t bytes = 0;
  while (*cursor < next_sequence_ && batch->events.size() < limits.max_events) {
    const auto& event = slots_[(*cursor - 1) % options_.capacity];
    bytes += event->encoded().size();
    if (bytes > limits.max_bytes && !batch->events.empty()) break;
    batch->events.push_back(event);
    ++*cursor;
  }
  batch->end_of_stream = closed_ && batch->empty();
}

bool Ring::Arm(uint64_t cursor, std::weak_ptr<SubscriptionWaker> waker) {
  MutexLock lock(&mu_);
  if (ReadableAt(cursor)) return false;
  armed_.push_back(std::move(waker));
  return true;
}

bool Ring::AwaitReadable(uint64_t cursor, absl::Time deadline) {
  MutexLock lock(&mu_);
  ++blocked_readers_;
  while (!ReadableAt(cursor) && changed_.WaitUntil(deadline)) {
  }
  --blocked_readers_;
  return ReadableAt(cursor);
}

void Ring::Close() {
  Wakers wakers;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    wakers.swap(armed_);
    changed_.SignalAll();
  }
  Wake(wakers);
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

uint64_t Ring::next_sequence() const {
  MutexLock lock(&mu_);
  return next_sequence_;
}

void Ring::Wake(const Wakers& wakers) {
  for (const auto& weak : wakers) {
    if (auto waker = weak.lock()) waker->OnReadable();
  }
}

}  // namespace eventbus

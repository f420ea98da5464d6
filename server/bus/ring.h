// Ring: the state one Bus shares with its Subscriptions (internal).
//
// Locking: one mutex guards the ring of events, the sequence counter, the
// subscriber count, the armed wakers and the closed flag. Publishers hold it
// to assign a sequence and swap one slot; readers hold it to copy references
// to the events they read. Nothing that can block, allocate much, free an
// event or call out (wakers) happens under it: evicted events are released
// and wakers run after it is dropped.
#ifndef EVENTBUS_SERVER_BUS_RING_H_
#define EVENTBUS_SERVER_BUS_RING_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "server/bus/bus.h"
#include "server/bus/stored_event.h"
#include "server/bus/subscription.h"

namespace eventbus {

class Ring {
 public:
  explicit Ring(BusOptions options) : options_(std::move(options)) {}

  const BusOptions& options() const { return options_; }

  // Assigns the next sequence and the publish time to `event`, stores it and
  // wakes armed subscriptions. Returns the sequence and the subscriber count.
  // Error: Unavailable when closed (nothing is consumed). The size limit is
  // the Bus's to check, before the event is encoded.
  absl::StatusOr<PublishResult> Append(std::shared_ptr<StoredEvent> event)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Registers a subscriber and returns its first cursor.
  absl::StatusOr<uint64_t> Register(SubscribeOptions::Start start,
                                    uint64_t from_sequence)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unregister() ABSL_LOCKS_EXCLUDED(mu_);

  // Reads from `*cursor` into `batch` (see Subscription::TryRead) and moves
  // the cursor past what it read and lost.
  void Read(uint64_t* cursor, const ReadLimits& limits, ReadBatch* batch)
      ABSL_LOCKS_EXCLUDED(mu_);

  // See Subscription::Arm.
  bool Arm(uint64_t cursor, std::weak_ptr<SubscriptionWaker> waker)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until a read at `cursor` finds something; false on deadline.
  bool AwaitReadable(uint64_t cursor, absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(mu_);

  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  bool AwaitNoSubscribers(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t subscriber_count() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t next_sequence() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Wakers = std::vector<std::weak_ptr<SubscriptionWaker>>;

  // The oldest sequence still in the ring (next_sequence_ when empty).
  uint64_t OldestRetained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ReadableAt(uint64_t cursor) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cursor < next_sequence_ || closed_;
  }
  static void Wake(const Wakers& wakers);

  const BusOptions options_;
  mutable Mutex mu_;
  // Signalled on publish and close while blocked_readers_ > 0, and when a
  // subscriber leaves.
  CondVar changed_{&mu_};
  uint64_t blocked_readers_ ABSL_GUARDED_BY(mu_) = 0;
  // slots_[(sequence - 1) % capacity]; grows to capacity as events arrive.
  std::vector<std::shared_ptr<const StoredEvent>> slots_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t subscribers_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Wakers armed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_RING_H_

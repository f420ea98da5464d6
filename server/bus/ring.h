// Ring: the state one Bus shares with its Subscriptions (internal).
//
// Locking: one mutex guards the ring of events, the sequence counter, the
// readers' positions, the armed wakers and waiters, and the closed flag.
// Publishers hold it to assign a sequence and swap one slot; readers hold it
// to copy references to the events they read. Nothing that can block,
// allocate much, free an event or call out (wakers, waiters) happens under
// it: evicted events are released and wakers run after it is dropped.
//
// Lanes: one ring per priority (Lane), each indexed by the count of its
// events before it (the lane index), each slot also keeping how many events
// of every lane came before its event, so that a position in one lane can be
// matched to the others. A reader keeps a position per lane (RingReader).
//
// Holding back: the readers with Overflow::kBlock are the ring's holders. An
// append that would overwrite an event of its lane a holder has not read
// does not happen; the publisher waits (Append) or is told to try again
// (TryAppend) and is woken when the slowest holder reads that lane. When a
// lane has been held for BusOptions::max_block (each lane is timed on its
// own), the next attempt ends the holders in its way and appends.
//
// With a durable log (StorageOptions): each append is also written to the
// log under mu_, in sequence order, and fails whole when that write fails.
// The ring then starts at the log's next sequence (base_), readers read in
// global order, and a reader whose position some lane no longer retains
// reads from the log, outside mu_, so nobody holds publishers back. With
// Fsync::kAlways readers see events only up to stored_end_, which the committer
// thread advances: it waits for unsynced appends, syncs them all with one
// Log::Sync outside mu_ (group commit), then publishes the new end to readers,
// to PublishWaiters in AwaitStored, and to publishers blocked in Append. It
// also applies retention.
#ifndef EVENTBUS_SERVER_BUS_RING_H_
#define EVENTBUS_SERVER_BUS_RING_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "server/bus/bus.h"
#include "server/bus/stored_event.h"
#include "server/bus/subscription.h"

namespace eventbus {

// The ring's lanes, most urgent first: a lane's index in Ring::lanes_ and
// RingReader's arrays.
inline constexpr int kLanes = 3;
inline constexpr int kHighLane = 0;
inline constexpr int kNormalLane = 1;
inline constexpr int kLowLane = 2;
int LaneOf(v1::Priority priority);
v1::Priority PriorityOfLane(int lane);

// One subscription's position. Its fields are guarded by its Ring's mu_:
// only the Ring touches them, except the description (set before the ring
// lists the reader, constant after) and the two counters.
struct RingReader {
  // What Bus::Subscribers shows of it, fixed at Register; shared so that a
  // listing copies a pointer, not the strings and the filter, under mu_.
  struct Description {
    std::string name;
    std::string peer;
    v1::EventFilter filter;
    absl::Time start_time;
  };
  std::shared_ptr<const Description> description;
  // Counted by the Subscription's one reading thread after each read, read
  // by anyone: relaxed atomics no other thread writes.
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> missed{0};
  // Where the ring lists it (Ring::readers_).
  size_t index = 0;

  // Per lane: `next` is the lane index (Ring::Lane) of the next event to
  // read, and `floor` the sequence after the last event of the lane read or
  // told lost (or where the reader started): a loss of the lane starts
  // there. With a log every floor is the reader's position (it reads in
  // global order), and `next` is stale after a read from the log until
  // `next_known`.
  std::array<uint64_t, kLanes> next{};
  std::array<uint64_t, kLanes> floor{};
  bool next_known = true;
  // Where a reader behind is in the weighted schedule (Ring::kSchedule).
  uint8_t turn = 0;
  Overflow overflow = Overflow::kDropOldest;
  // Lost before the reader started (a from_sequence no longer retained),
  // told first, in order.
  std::vector<Lag> start_lags;
  // Not OK once the ring ended this reader.
  absl::Status ended;
};

class Ring {
 public:
  explicit Ring(BusOptions options);
  // Stops the committer (see CloseStorage).
  ~Ring();

  const BusOptions& options() const { return options_; }

  // Assigns the next sequence and the publish time to `*event`, stores it and
  // wakes armed subscriptions; first waits while a holder is in the way
  // (for at most max_block, see above). Returns the sequence and the
  // subscriber count. Error: Unavailable when closed (nothing is consumed).
  // The size limit is the Bus's to check, before the event is encoded.
  absl::StatusOr<PublishResult> Append(std::shared_ptr<StoredEvent> event)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Append without waiting: while a holder is in the way, leaves `*event`
  // alone, arms `waiter` (unless expired) and returns the time by which to
  // try again (PublishAttempt).
  absl::StatusOr<PublishAttempt> TryAppend(std::shared_ptr<StoredEvent>* event,
                                           std::weak_ptr<PublishWaiter> waiter)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Registers a subscriber at its first position (options' start,
  // from_sequence and overflow), described by its name, peer and filter.
  absl::StatusOr<std::unique_ptr<RingReader>> Register(
      const SubscribeOptions& options) ABSL_LOCKS_EXCLUDED(mu_);
  void Unregister(RingReader* reader) ABSL_LOCKS_EXCLUDED(mu_);

  // Reads from the reader's cursor into `batch` (see Subscription::TryRead)
  // and moves the cursor past what it read and lost.
  void Read(RingReader* reader, const ReadLimits& limits, ReadBatch* batch)
      ABSL_LOCKS_EXCLUDED(mu_);

  // See Subscription::Arm.
  bool Arm(const RingReader* reader, std::weak_ptr<SubscriptionWaker> waker)
      ABSL_LOCKS_EXCLUDED(mu_);

  // See Bus::AwaitStored.
  absl::StatusOr<bool> AwaitStored(uint64_t sequence,
                                   std::weak_ptr<PublishWaiter> waiter)
      ABSL_LOCKS_EXCLUDED(mu_);
  // See Bus::CloseStorage. Idempotent.
  absl::Status CloseStorage() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until a read finds something; false on deadline.
  bool AwaitReadable(const RingReader* reader, absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t CursorOf(const RingReader* reader) const ABSL_LOCKS_EXCLUDED(mu_);

  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  bool AwaitNoSubscribers(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t subscriber_count() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<SubscriberSnapshot> Subscribers() const ABSL_LOCKS_EXCLUDED(mu_);
  BusStats Stats() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t blocked_publishers() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t next_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t oldest_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t stored_end() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Wakers = std::vector<std::weak_ptr<SubscriptionWaker>>;
  using Waiters = std::vector<std::weak_ptr<PublishWaiter>>;

  // Appends `*event`, or returns the time by which to try again while a
  // holder is in the way (ending the holders once that time has come).
  // Ending holders releases the waiting publishers into `released`.
  absl::StatusOr<PublishAttempt> AppendLocked(
      std::shared_ptr<StoredEvent>* event,
      std::shared_ptr<const StoredEvent>* evicted, Wakers* wakers,
      Waiters* released) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One priority's part of the ring.
  struct Slot {
    std::shared_ptr<const StoredEvent> event;
    // event->sequence(), here so that merging lanes reads no event.
    uint64_t sequence = 0;
    // Events of each lane appended before this one (since base_); its own
    // lane's is its lane index.
    std::array<uint64_t, kLanes> before{};
  };
  struct Lane {
    uint64_t capacity = 0;
    // slots[index % capacity]; grows to capacity as events arrive.
    std::vector<Slot> slots;
    // Events appended to the lane since base_: lane indices 0..count-1.
    uint64_t count = 0;
    // count % capacity, where the next event goes: kept so that finding a
    // slot needs no division.
    size_t next_slot = 0;
    // The sequence of the newest event the lane overwrote (0: none yet).
    uint64_t last_evicted = 0;
    // A lower bound of the holders' next index in this lane.
    uint64_t holder_floor = UINT64_MAX;
    // Since when a holder has held this lane back: the oldest attempt of
    // its publishers still waiting.
    std::optional<absl::Time> held_since;
    // Its publishers told to try again (TryAppend), and those blocked in
    // Append.
    Waiters waiting;
    uint64_t blocked = 0;

    uint64_t oldest_index() const {
      return count > capacity ? count - capacity : 0;
    }
    bool full() const { return count >= capacity; }
    // The slot of `index`, a retained event (oldest_index() <= index <
    // count).
    size_t SlotOf(uint64_t index) const {
      const uint64_t back = count - index;  // 1..capacity
      return back <= next_slot ? next_slot - back : next_slot + capacity - back;
    }
    const Slot& at(uint64_t index) const { return slots[SlotOf(index)]; }
    // The sequence of the event at `index` (< count and retained).
    uint64_t sequence_at(uint64_t index) const { return at(index).sequence; }
    // The index of the first retained event numbered `sequence` or later
    // (count when none is).
    uint64_t LowerBound(uint64_t sequence) const;
  };
  // The order in which a reader behind takes the lanes: 4 HIGH, 2 NORMAL,
  // 1 LOW in 7, spread out.
  static constexpr std::array<uint8_t, 7> kSchedule = {
      kHighLane, kNormalLane, kHighLane, kLowLane,
      kHighLane, kNormalLane, kHighLane};

  // The config key that set the capacity of `lane`, for messages.
  const char* CapacityKey(int lane) const;
  // Whether a holder has not read the event at `index` of `lane` (updates
  // its holder_floor).
  bool HeldBack(int lane, uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The lowest next index of the holders in `lane` (UINT64_MAX without).
  uint64_t LowestHolderNext(int lane) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the holders that have not read the event at `index` of `lane`.
  void EndHoldersBehind(int lane, uint64_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands every waiting publisher to `waiters` and signals the blocked ones.
  void ReleasePublishers(Waiters* waiters) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same for the publishers of one lane.
  void ReleaseLane(Lane& lane, Waiters* waiters)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Places a new reader at `sequence` (earliest: at every lane's oldest),
  // with the losses before it as start_lags.
  void Place(RingReader* reader, uint64_t sequence, bool earliest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The oldest sequence `reader` has not read or been told lost.
  uint64_t PositionOf(const RingReader& reader) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets every lane's next from the reader's position (with a log, after
  // a read from it): the ring retains everything from there.
  void FindNext(RingReader* reader) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The oldest sequence still in the ring (next_sequence_ when empty).
  uint64_t OldestRetained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The oldest a reader can read: in the log, or else in the ring.
  uint64_t OldestKept() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // With a log: the ring has every event numbered from here on (later
  // than base_ and than any lane's last eviction).
  uint64_t CoveredFrom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ReadableBy(const RingReader& reader) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The lanes that have had an event, most urgent first: the others have
  // nothing to read or lose, and the read path skips them.
  std::span<const uint8_t> UsedLanes() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return {used_lanes_.data(), used_lane_count_};
  }
  // Reads from the ring (Read without a log, or a reader within the ring).
  void ReadFromRing(RingReader* reader, const ReadLimits& limits,
                    ReadBatch* batch, Waiters* waiters)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether every appended event is visible, or none will be any more
  // (the log failed): a closed bus's readers then end.
  bool AllVisible() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return visible_end_ == next_sequence_ || !storage_error_.ok();
  }
  // The log stopped: tells everyone waiting for it.
  void StorageFailedLocked(const absl::Status& error, Wakers* wakers,
                           Waiters* waiters) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads [reader->floor[0], end) from the log into `batch`, reporting what
  // the log no longer has as a lag (see Read).
  void ReadFromLog(RingReader* reader, uint64_t end, const ReadLimits& limits,
                   ReadBatch* batch) ABSL_LOCKS_EXCLUDED(mu_);
  // Makes everything before `end` stored and visible; collects whom to
  // tell.
  void CommitLocked(uint64_t end, Wakers* wakers, Waiters* waiters)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands every AwaitStored waiter below `end` (all of them: UINT64_MAX) to
  // `waiters`.
  void ReleaseStoreWaiters(uint64_t end, Waiters* waiters)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunCommitter() ABSL_LOCKS_EXCLUDED(mu_);
  bool SyncEveryAppend() const {
    return storage_.log != nullptr &&
           storage_.fsync == StorageOptions::Fsync::kAlways;
  }
  static void Wake(const Wakers& wakers);
  static void Wake(const Waiters& waiters);

  const BusOptions options_;
  const StorageOptions& storage_ = options_.storage;
  mutable Mutex mu_;
  // Signalled on publish and close while blocked_readers_ > 0, and when a
  // subscriber leaves.
  CondVar changed_{&mu_};
  uint64_t blocked_readers_ ABSL_GUARDED_BY(mu_) = 0;
  // Signalled when a holder reads or leaves, and on close, while
  // blocked_publishers_ > 0.
  CondVar space_{&mu_};
  uint64_t blocked_publishers_ ABSL_GUARDED_BY(mu_) = 0;
  // By lane (kHighLane...). base_ is the first sequence the ring held: 1,
  // or the log's next sequence when the bus started.
  std::array<Lane, kLanes> lanes_ ABSL_GUARDED_BY(mu_);
  std::array<uint8_t, kLanes> used_lanes_ ABSL_GUARDED_BY(mu_){};
  size_t used_lane_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t base_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  // Readers see the events before visible_end_; those before stored_end_
  // are stored (both next_sequence_ unless Fsync::kAlways).
  uint64_t visible_end_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t stored_end_ ABSL_GUARDED_BY(mu_) = 1;
  // Not OK once the log stopped: nothing more is stored.
  absl::Status storage_error_ ABSL_GUARDED_BY(mu_);
  // AwaitStored's waiters, with the sequence each waits for.
  std::vector<std::pair<uint64_t, std::weak_ptr<PublishWaiter>>> store_waiters_
      ABSL_GUARDED_BY(mu_);
  // Signalled when stored_end_ grows or storage fails, while
  // blocked_storers_ > 0 (publishers in Append).
  CondVar stored_{&mu_};
  uint64_t blocked_storers_ ABSL_GUARDED_BY(mu_) = 0;
  // Signalled on an append the committer waits for, and to stop it.
  CondVar unsynced_{&mu_};
  bool committer_idle_ ABSL_GUARDED_BY(mu_) = false;
  bool committer_stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread committer_;  // started by the constructor, joined once
  uint64_t subscribers_ ABSL_GUARDED_BY(mu_) = 0;
  // Every registered reader (in no order: a leaving one's place takes the
  // last), and what the readers that left had counted.
  std::vector<RingReader*> readers_ ABSL_GUARDED_BY(mu_);
  uint64_t departed_received_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t departed_missed_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Wakers armed_ ABSL_GUARDED_BY(mu_);
  // The kBlock readers still holding (their floors are in lanes_).
  std::vector<RingReader*> holders_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_RING_H_

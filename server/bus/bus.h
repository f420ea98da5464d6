// Bus: the in-memory broadcast bus, usable without gRPC.
//
// Publish waits for no subscriber, except one whose overflow policy is
// Overflow::kBlock (subscription.h), for at most BusOptions::max_block. The
// bus assigns each accepted event
// the next sequence number (1, 2, 3, ... without gaps), its publish time and,
// when empty, a random UUID as id; encodes it once; and keeps it in a ring of
// `capacity` events shared by every subscriber. Every subscriber sees every
// event published after it subscribed, in order, or is told exactly which
// ones it lost (see subscription.h).
//
// A Bus is a cheap, copyable handle: copies share the same bus. All methods
// are thread-safe.
#ifndef EVENTBUS_SERVER_BUS_BUS_H_
#define EVENTBUS_SERVER_BUS_BUS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/bus/stored_event.h"
#include "server/bus/subscription.h"
#include "server/storage/log.h"

namespace eventbus {

class Ring;

// Where the bus keeps its events besides the ring (BusOptions::storage).
struct StorageOptions {
  // When an accepted event counts as stored, which is when its publisher
  // is answered.
  enum class Fsync {
    // After an fdatasync covers it. One sync serves every event appended
    // meanwhile (group commit), and subscribers see an event only once it
    // is stored, so none ever sees one that a crash could unsay.
    kAlways,
    // After its write(2): a process crash loses nothing, a power failure
    // at most `interval` (the log syncs that often).
    kInterval,
    // After its write(2); the OS decides when it reaches the disk.
    kNever,
  };
  // The durable log; null keeps the bus in memory only.
  std::shared_ptr<Log> log;
  Fsync fsync = Fsync::kAlways;
  absl::Duration interval = absl::Milliseconds(100);
  // How often retention (LogOptions) is applied.
  absl::Duration retention_period = absl::Seconds(1);
  // Called by the committer thread, outside the bus's locks, after a
  // retention pass that removed segments (`removed` > 0) or failed (the next
  // pass tries again), with the oldest sequence the log keeps. For the
  // daemon's log; may be empty.
  std::function<void(const absl::StatusOr<int>& removed, uint64_t oldest)>
      on_retention;
  // Called by the committer before each retention pass, outside the bus's
  // locks: the oldest sequence retention must keep (a reader that has not
  // sent it on; UINT64_MAX: none). May be empty.
  std::function<uint64_t()> retention_floor;
};

struct BusOptions {
  // The ranges Create accepts; the config (bus.*, server.max_subscribers)
  // checks its values against these.
  static constexpr uint64_t kMaxCapacity = 16777216;
  static constexpr uint64_t kMinEventBytes = 64;
  static constexpr uint64_t kMaxEventBytes = uint64_t{64} << 20;
  static constexpr uint64_t kMaxSubscribers = 1000000;
  // Most bytes the assigned fields add to an event: a generated id (2 + 36)
  // and room for the sequence and publish_time.
  static constexpr uint64_t kMaxAssignedBytes = 38 + 32;

  // Events retained, 1..kMaxCapacity: of PRIORITY_NORMAL, and of each
  // other priority whose lane capacity is 0.
  uint64_t capacity = 1024;
  // Events retained per priority (see subscription.h), 0 (capacity) or
  // 1..kMaxCapacity. Each lane's slots are allocated as its events arrive.
  struct Lanes {
    uint64_t high = 0;
    uint64_t normal = 0;
    uint64_t low = 0;
  };
  Lanes lanes;
  // Largest accepted event as its publisher sent it, serialized without the
  // fields the bus assigns (sequence, publish_time, a generated id); a stored
  // event is at most kMaxAssignedBytes larger. kMinEventBytes..kMaxEventBytes.
  uint64_t max_event_bytes = 1 << 20;
  // Subscriptions alive at once, 1..kMaxSubscribers.
  uint64_t max_subscribers = 10000;
  // How long a kBlock subscription may hold publishers back before the bus
  // ends it; kMinBlock..kMaxBlock.
  static constexpr absl::Duration kMinBlock = absl::Milliseconds(1);
  static constexpr absl::Duration kMaxBlock = absl::Hours(1);
  absl::Duration max_block = absl::Seconds(1);
  // Source of publish times; tests substitute it.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // With a log: sequences continue from the log's, subscribers behind the
  // ring read from the log (so no overflow policy holds publishers back),
  // and losses are only what retention removed before they read it.
  StorageOptions storage;
};

struct PublishResult {
  uint64_t sequence = 0;
  std::string id;
  // Subscriptions registered when the event was published.
  uint64_t subscribers = 0;
  // False while the event waits for the log to store it (Fsync::kAlways):
  // answer its publisher only after Bus::AwaitStored says it is.
  bool stored = true;
};

// Told when a publish that a kBlock subscription held back may go on (see
// Bus::TryPublish), and when a published event may be stored (see
// Bus::AwaitStored).
class PublishWaiter {
 public:
  virtual ~PublishWaiter() = default;
  // Called once per arming, from a reader's thread (or the one closing the
  // bus, or the log's committer), with no bus lock held. Must not block; may be
  // spurious. May be called after the waiter's owner lost interest, which
  // checks its state.
  virtual void OnMayPublish() = 0;
};

// An event validated and encoded for publishing (Bus::Prepare), not yet
// numbered. Move-only.
class PreparedEvent {
 public:
  PreparedEvent(PreparedEvent&&) = default;
  PreparedEvent& operator=(PreparedEvent&&) = default;

 private:
  friend class Bus;
  PreparedEvent(std::shared_ptr<StoredEvent> stored, std::string id)
      : stored_(std::move(stored)), id_(std::move(id)) {}
  std::shared_ptr<StoredEvent> stored_;
  std::string id_;
};

// The outcome of Bus::TryPublish.
struct PublishAttempt {
  // Set when the event was published.
  std::optional<PublishResult> published;
  // Otherwise a kBlock subscription holds the bus: try again when the waiter
  // is called, and at this time at the latest (the bus then ends that
  // subscription and publishes).
  absl::Time retry_by = absl::InfinitePast();
};

// Where a subscription starts, what it receives, and its name.
struct SubscribeOptions {
  enum class Start {
    kNext,      // the next event published (the default, as tokio)
    kEarliest,  // the oldest retained event
    kSequence,  // from_sequence
  };
  Start start = Start::kNext;
  uint64_t from_sequence = 0;
  EventMatcher matcher;
  Overflow overflow = Overflow::kDropOldest;
  // For logs and introspection (Bus::Subscribers) only: the name the
  // subscriber gave, where it connects from, and the filter `matcher` was
  // made from.
  std::string name;
  std::string peer;
  v1::EventFilter filter;
};

// One subscription as introspection sees it (Bus::Subscribers).
struct SubscriberSnapshot {
  std::string name;
  std::string peer;
  absl::Time start_time;
  v1::EventFilter filter;
  Overflow overflow = Overflow::kDropOldest;
  // The next sequence it will read.
  uint64_t next_sequence = 0;
  // Events it has read (those its filter passed), and the sum of the Lag
  // ranges it was told.
  uint64_t received = 0;
  uint64_t missed = 0;
};

// The bus's numbers at one moment (Bus::Stats), for metrics and
// introspection. Each field is exact; together they are one snapshot.
struct BusStats {
  uint64_t next_sequence = 1;
  // The oldest sequence a subscriber can still read (from_earliest).
  uint64_t oldest_sequence = 1;
  // The lanes' capacities added up.
  uint64_t capacity = 0;
  // Events in the ring now (at most capacity).
  uint64_t ring_events = 0;
  // The same per lane: HIGH, NORMAL, LOW.
  std::array<uint64_t, 3> lane_capacity{};
  std::array<uint64_t, 3> lane_events{};
  uint64_t subscribers = 0;
  uint64_t blocked_publishers = 0;
  // Events published since the bus was created.
  uint64_t published = 0;
  // Over every subscription, alive or gone: events read, and the sum of
  // every Lag told (received and missed of SubscriberSnapshot).
  uint64_t delivered = 0;
  uint64_t missed = 0;
  // With a log: its size now.
  bool durable = false;
  uint64_t log_bytes = 0;
  uint64_t log_segments = 0;
};

class Bus {
 public:
  // Returns InvalidArgument when an option is out of range.
  static absl::StatusOr<Bus> Create(BusOptions options);

  // Validates and publishes a copy of `event`, with a random UUID as its id
  // when it has none; any sequence or publish_time in it is replaced. While
  // a kBlock subscription has not read the event this one would overwrite,
  // waits for it, for at most max_block: then that subscription ends and
  // the event is published.
  // With a log, also waits until the event is stored (StorageOptions).
  // Errors: InvalidArgument (no payload, an enum value outside its enum,
  // larger than max_event_bytes), Unavailable (the bus is closed, or the
  // log could not store it, with the cause). A rejected event consumes no
  // sequence, except one the log failed to sync: that one is never seen.
  absl::StatusOr<PublishResult> Publish(const v1::Event& event) const;

  // Publish in two steps, for callers that must not block a thread:
  // Prepare validates and encodes (the errors of Publish but Unavailable);
  // TryPublish publishes, or, while a kBlock subscription holds the bus,
  // arms `waiter` and says when to try again (see PublishAttempt). Error:
  // Unavailable (closed; `event` is left as it was).
  absl::StatusOr<PreparedEvent> Prepare(const v1::Event& event) const;
  absl::StatusOr<PublishAttempt> TryPublish(
      PreparedEvent* event, std::weak_ptr<PublishWaiter> waiter) const;

  // Whether the event published as `sequence` is stored (always true
  // without a log or fsync always). When not yet, arms `waiter`, called
  // once it may be, and returns false. Error: Unavailable (the log stopped
  // before storing it; its publisher must be told it was not stored).
  absl::StatusOr<bool> AwaitStored(uint64_t sequence,
                                   std::weak_ptr<PublishWaiter> waiter) const;

  // Stores what was accepted and stops using the log (the end of a drain,
  // after Close and the last publish). Returns the log's last error.
  absl::Status CloseStorage() const;

  // Registers a subscription. Errors: InvalidArgument (from_sequence 0),
  // OutOfRange (from_sequence beyond the next sequence), ResourceExhausted
  // (max_subscribers reached), Unavailable (closed).
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(
      SubscribeOptions options) const;

  // Starts draining: later publishes and subscribes fail with Unavailable;
  // subscriptions read what remains, then see end_of_stream. Idempotent.
  void Close() const;

  // Waits until no subscription is registered or `deadline` passes; returns
  // whether none is.
  bool AwaitNoSubscribers(absl::Time deadline) const;

  uint64_t subscriber_count() const;
  // Every registered subscription, oldest first.
  std::vector<SubscriberSnapshot> Subscribers() const;
  BusStats Stats() const;
  // Publishers waiting in Publish() for a kBlock subscription.
  uint64_t blocked_publishers() const;
  // The sequence the next accepted event will get.
  uint64_t next_sequence() const;
  // The sequence after the last stored event (see AwaitStored).
  uint64_t stored_end() const;
  // The oldest sequence a subscriber can still read (from_earliest).
  uint64_t oldest_sequence() const;
  const BusOptions& options() const;

 private:
  explicit Bus(std::shared_ptr<Ring> ring) : ring_(std::move(ring)) {}
  std::shared_ptr<Ring> ring_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_BUS_H_

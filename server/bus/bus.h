// Bus: the in-memory broadcast bus, usable without gRPC.
//
// Publish never waits for subscribers. The bus assigns each accepted event
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

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/bus/subscription.h"

namespace eventbus {

class Ring;

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

  // Events retained, 1..kMaxCapacity.
  uint64_t capacity = 1024;
  // Largest accepted event as its publisher sent it, serialized without the
  // fields the bus assigns (sequence, publish_time, a generated id); a stored
  // event is at most kMaxAssignedBytes larger. kMinEventBytes..kMaxEventBytes.
  uint64_t max_event_bytes = 1 << 20;
  // Subscriptions alive at once, 1..kMaxSubscribers.
  uint64_t max_subscribers = 10000;
  // Source of publish times; tests substitute it.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

struct PublishResult {
  uint64_t sequence = 0;
  std::string id;
  // Subscriptions registered when the event was published.
  uint64_t subscribers = 0;
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
  // For logs only.
  std::string name;
};

class Bus {
 public:
  // Returns InvalidArgument when an option is out of range.
  static absl::StatusOr<Bus> Create(BusOptions options);

  // Validates and publishes a copy of `event`, with a random UUID as its id
  // when it has none; any sequence or publish_time in it is replaced.
  // Errors: InvalidArgument (no payload, an enum value outside its enum,
  // larger than max_event_bytes), Unavailable (the bus is closed). A
  // rejected event consumes no sequence.
  absl::StatusOr<PublishResult> Publish(const v1::Event& event) const;

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
  // The sequence the next accepted event will get.
  uint64_t next_sequence() const;
  const BusOptions& options() const;

 private:
  explicit Bus(std::shared_ptr<Ring> ring) : ring_(std::move(ring)) {}
  std::shared_ptr<Ring> ring_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_BUS_H_

// Subscription: one reader's position on the bus.
//
// A Subscription is created by Bus::Subscribe and owned by its reader; it
// leaves the bus when destroyed. It holds a cursor (the next sequence it will
// read) and its filter. Reads never block publishers for longer than it takes
// to copy references to the events read, and never wait for other readers;
// only a kBlock subscription that does not read holds publishers back.
//
// Lanes: each priority (HIGH, NORMAL, LOW; unspecified is NORMAL) has its
// own part of the ring, retaining the last BusOptions::lanes capacity events
// of that priority: a flood in one lane never evicts another's events. A
// subscription has a position in each lane. One that keeps up (what it has
// not read fits in one read) reads in global sequence order; one further
// behind reads the lanes weighted 4:2:1 (two HIGH for every NORMAL, two
// NORMAL for every LOW, as RabbitMQ's priority queues do), in ascending
// order within each lane, so that urgent events come first and no lane
// starves. With a durable log every subscription reads in global order (see
// BusOptions::storage).
//
// Overflow: what happens when a subscription falls a lane's capacity behind
// in that lane is its Overflow policy:
//   kDropOldest: the next read reports the exact loss as a Lag (that lane's
//     events between first and last, and how many) and continues from the
//     lane's oldest retained event.
//   kBlock: the subscription is never lapped. A publish that would overwrite
//     an event it has not read waits until it has (see Bus::Publish); one
//     that waits longer than BusOptions::max_block ends the subscription.
//   kDisconnect: the subscription ends instead of losing an event.
// An ended subscription's next read returns `ended`: ResourceExhausted,
// naming the next sequence it needs, so its reader can resume from there.
// A subscription that starts at a sequence no longer retained reports that
// range as a Lag first, whatever its policy: those events were lost before
// it started. For an unfiltered subscription, events read plus events
// reported lost equal the events published since it started (up to where it
// ended), with no overlap, in every lane.
//
// Thread-safety: one thread at a time may call a Subscription's methods (as
// with a tokio broadcast Receiver); different Subscriptions are independent.
#ifndef EVENTBUS_SERVER_BUS_SUBSCRIPTION_H_
#define EVENTBUS_SERVER_BUS_SUBSCRIPTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/bus/event_matcher.h"
#include "server/bus/stored_event.h"

namespace eventbus {

class Ring;
struct RingReader;

// What a subscription does when it falls `capacity` events behind (above).
enum class Overflow { kDropOldest, kBlock, kDisconnect };
// "drop-oldest", "block" or "disconnect", for logs.
const char* OverflowName(Overflow overflow);

// Events a subscription lost, numbered first..last (both included).
// With `priority` set they are that lane's events in the range, `events` of
// them (the other lanes' events in the range are not lost, or are told in
// their own Lag); PRIORITY_UNSPECIFIED means every event in the range, of
// any lane (lost before the subscription started, or removed by storage
// retention).
struct Lag {
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  v1::Priority priority = v1::PRIORITY_UNSPECIFIED;
  // The events lost; 0 stands for every sequence in the range.
  uint64_t events = 0;

  uint64_t missed() const {
    return events != 0 ? events : last_sequence - first_sequence + 1;
  }
  friend bool operator==(const Lag& a, const Lag& b) {
    return a.first_sequence == b.first_sequence &&
           a.last_sequence == b.last_sequence && a.priority == b.priority &&
           a.missed() == b.missed();
  }
};

// Upper bounds for one read. A read returns at least one event when one is
// available, even when that event alone exceeds max_bytes.
struct ReadLimits {
  size_t max_events = 1024;
  size_t max_bytes = 256 * 1024;
};

// What one read produced, in this order: a lag notice, then events in
// ascending sequence order. `end_of_stream` is set, with nothing else, once
// the bus was closed and the subscription has read every event. `ended` is
// an error, with nothing else, once the bus ended the subscription (see
// Overflow above); every later read returns it again.
struct ReadBatch {
  std::optional<Lag> lag;
  std::vector<std::shared_ptr<const StoredEvent>> events;
  bool end_of_stream = false;
  absl::Status ended;

  bool empty() const {
    return !lag && events.empty() && !end_of_stream && ended.ok();
  }
  void Clear() {
    lag.reset();
    events.clear();
    end_of_stream = false;
    ended = absl::OkStatus();
  }
};

// Receives "something to read" signals for a subscription (see Arm()).
class SubscriptionWaker {
 public:
  virtual ~SubscriptionWaker() = default;
  // Called once per successful Arm(), from the thread that published or
  // closed the bus, with no bus lock held. Must not block. May be called
  // after the Subscription was destroyed when that raced with a publish, so
  // implementations check their own state.
  virtual void OnReadable() = 0;
};

class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Takes what is available now, up to `limits`, into `batch` (cleared
  // first). Never blocks on other readers. May return an empty batch even
  // when Arm() would fail: events that did not pass the filter were skipped.
  void TryRead(const ReadLimits& limits, ReadBatch* batch);

  // Like TryRead(), but waits until something is available or `deadline`
  // passes (then returns an empty batch).
  void Read(absl::Time deadline, const ReadLimits& limits, ReadBatch* batch);

  // Asks for one waker->OnReadable() call when a read would find something.
  // Returns false, without arming, when something is available already; the
  // caller reads again. The bus keeps only a weak reference to the waker.
  bool Arm(std::weak_ptr<SubscriptionWaker> waker);

  // The oldest sequence this subscription has not read (nor been told
  // lost): resuming there loses nothing, though it may repeat HIGH events
  // read ahead while behind.
  uint64_t cursor() const;
  Overflow overflow() const { return overflow_; }
  const std::string& name() const { return name_; }

 private:
  friend class Bus;
  Subscription(std::shared_ptr<Ring> ring, std::unique_ptr<RingReader> reader,
               Overflow overflow, EventMatcher matcher, std::string name);

  const std::shared_ptr<Ring> ring_;
  // This subscription's position, which the ring reads and writes under its
  // lock (it holds publishers back for kBlock).
  const std::unique_ptr<RingReader> reader_;
  const Overflow overflow_;
  const EventMatcher matcher_;
  const std::string name_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_SUBSCRIPTION_H_

// Publisher: publishes events to an eventbusd.
//
// Publish() sends one event with the unary Publish RPC and waits for its
// sequence, bounded by a deadline. PublishAsync() queues the event; queued
// events go out in order on one long-lived PublishStream call, with up to
// `window` of them unacknowledged at once (the first waits alone until the
// daemon has answered the call's headers), so a busy publisher pays no round
// trip per event; the events queued while a write is in flight go out
// together in the next request (up to 1 MiB). Each outcome is reported to a
// callback on the publisher's own thread, in order; the queue is bounded and a
// full queue is an error at once, never a wait. Nothing is dropped silently:
// every queued event's callback runs exactly once, with its receipt or the
// error that stopped it. An event the daemon rejects fails alone with the
// daemon's status (INVALID_ARGUMENT, RESOURCE_EXHAUSTED), as with Publish: the
// events sent after it, which the daemon did not publish, go out again on a new
// stream. When the stream breaks, or an event stays unacknowledged for
// `timeout` (DEADLINE_EXCEEDED), every unacknowledged event fails with that
// status: it may or may not have been published. Later events use a new stream.
//
// Thread-safe. The destructor stops taking events, lets the events in
// flight finish (acknowledged, or failed after `timeout`), fails what is
// still queued with CANCELLED (through the callbacks), closes the stream
// and joins the thread; call Flush() first to wait for them.
#ifndef EVENTBUS_CLIENT_PUBLISHER_H_
#define EVENTBUS_CLIENT_PUBLISHER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::client {

// What the bus assigned to a published event.
struct PublishReceipt {
  uint64_t sequence = 0;
  std::string id;
  uint32_t subscribers = 0;
};

struct PublisherOptions {
  // Deadline of each Publish RPC, and how long an event of PublishAsync()
  // may stay unacknowledged.
  absl::Duration timeout = absl::Seconds(5);
  // Most events PublishAsync() holds waiting to be sent before it refuses
  // more (events sent and not yet acknowledged do not count).
  size_t queue_capacity = 10000;
  // Most events PublishAsync() keeps unacknowledged on its stream.
  size_t window = 1024;
};

class Publisher {
 public:
  using Callback = std::function<void(absl::StatusOr<PublishReceipt>)>;

  // `channel` to an eventbusd. Fails with InvalidArgument on a null channel,
  // a zero queue capacity or a zero window.
  static absl::StatusOr<std::unique_ptr<Publisher>> Create(
      std::shared_ptr<grpc::Channel> channel, PublisherOptions options = {});

  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Publishes `event` and waits for the receipt. Errors carry the RPC's code
  // and message (INVALID_ARGUMENT for a bad event, UNAVAILABLE when the daemon
  // is unreachable or draining, DEADLINE_EXCEEDED, ...).
  absl::StatusOr<PublishReceipt> Publish(const v1::Event& event);

  // Queues `event`; `done` (may be empty) runs later on the publisher's
  // thread with the outcome, in the order events were queued. Returns
  // InvalidArgument for a string field that is not UTF-8 (which the daemon
  // could not parse), ResourceExhausted when the queue is full and
  // FailedPrecondition after shutdown began; then `done` never runs.
  absl::Status PublishAsync(v1::Event event, Callback done = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until every event queued so far has its outcome, or `deadline`.
  // Returns whether the queue is empty.
  bool Flush(absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Stream;  // the PublishStream call of PublishAsync (publisher.cc)

  struct Queued {
    v1::Event event;
    Callback done;
  };
  // An event written to the stream, not yet acknowledged.
  struct Sent {
    v1::Event event;
    Callback done;
    absl::Time deadline;
  };
  struct Outcome {
    Callback done;
    absl::StatusOr<PublishReceipt> result;
  };

  Publisher(std::shared_ptr<grpc::Channel> channel, PublisherOptions options);
  // The publisher's thread: opens and closes streams, enforces `timeout`,
  // runs the callbacks.
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Writes the queued events when the stream and the window allow.
  // Any thread.
  void SendMore() ABSL_LOCKS_EXCLUDED(mu_);
  void Report(Callback done, absl::StatusOr<PublishReceipt> result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Stream callbacks (gRPC's threads).
  void OnHeaders(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  void OnWritten(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  void OnAcks(const v1::PublishStreamResponse& response)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnReadsDone() ABSL_LOCKS_EXCLUDED(mu_);
  void OnStreamDone(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  const PublisherOptions options_;
  const std::unique_ptr<v1::EventBusService::Stub> stub_;
  Mutex mu_;
  CondVar changed_{&mu_};
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<Sent> sent_ ABSL_GUARDED_BY(mu_);
  std::deque<Outcome> outcomes_ ABSL_GUARDED_BY(mu_);
  // Callbacks taken off outcomes_ that are still running.
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream, if any, and its state. Only the publisher's thread
  // creates a stream and releases its hold, so the stream lives at least
  // until `released_`; OnStreamDone clears it.
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool headers_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace eventbus::client

#endif  // EVENTBUS_CLIENT_PUBLISHER_H_

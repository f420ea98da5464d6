// Publisher: publishes events to an eventbusd.
//
// Publish() sends one event and waits for its sequence, bounded by a
// deadline. PublishAsync() queues the event for a background thread that
// publishes queued events in order, one at a time, and reports each outcome
// to a callback; the queue is bounded and a full queue is an error at once,
// never a wait. Nothing is dropped silently: every queued event's callback
// runs exactly once, with its receipt or the error that stopped it.
//
// Thread-safe. The destructor stops taking events, lets the publish in
// flight finish, fails what is still queued with CANCELLED (through the
// callbacks) and joins the thread; call Flush() first to wait for them.
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
#include "eventbus/v1/eventbus.grpc.pb.h"
#include "server/mutex.h"

namespace eventbus::client {

// What the bus assigned to a published event.
struct PublishReceipt {
  uint64_t sequence = 0;
  std::string id;
  uint32_t subscribers = 0;
};

struct PublisherOptions {
  // Deadline of each Publish RPC.
  absl::Duration timeout = absl::Seconds(5);
  // Most events PublishAsync() holds before it refuses more.
  size_t queue_capacity = 10000;
};

class Publisher {
 public:
  using Callback = std::function<void(absl::StatusOr<PublishReceipt>)>;

  // `channel` to an eventbusd. Fails with InvalidArgument on a null channel
  // or a zero queue capacity.
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
  // thread with the outcome. Returns ResourceExhausted when the queue is
  // full and FailedPrecondition after shutdown began; then `done` never runs.
  absl::Status PublishAsync(v1::Event event, Callback done = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until every event queued so far has its outcome, or `deadline`.
  // Returns whether the queue is empty.
  bool Flush(absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Queued {
    v1::Event event;
    Callback done;
  };

  Publisher(std::shared_ptr<grpc::Channel> channel, PublisherOptions options);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const PublisherOptions options_;
  const std::unique_ptr<v1::EventBusService::Stub> stub_;
  Mutex mu_;
  CondVar changed_{&mu_};
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  // Events taken off the queue whose outcome is not reported yet.
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace eventbus::client

#endif  // EVENTBUS_CLIENT_PUBLISHER_H_

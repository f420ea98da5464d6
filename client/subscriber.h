// Subscriber: a Subscribe stream that survives restarts and network faults.
//
// A background thread holds one stream and hands what arrives to the owner as
// SubscriberNotices, in order. When the stream breaks (daemon restarting or
// draining, connection lost) it reconnects with exponential backoff and
// resumes at the sequence after the last one it handed over
// (`from_sequence = last + 1`), so a blip costs no event the daemon's ring
// still holds; what the ring no longer holds arrives as a kLagged notice with
// the exact range. When the daemon's `eventbus-instance` changed (it
// restarted and its numbering began again), the subscriber reports
// kInstanceChanged and continues from the oldest event the new instance
// retains. A stream the daemon ends for its overflow policy (BLOCK held
// publishers back past bus.max_block, or DISCONNECT fell behind; both
// RESOURCE_EXHAUSTED) is resumed the same way: kDisconnected, then, if the
// ring moved on meanwhile, kLagged with the range lost.
//
// Two ways to consume:
//   - a handler, called on the subscriber's thread; while it runs nothing
//     more is read, so a slow handler makes the daemon report lag (or, with
//     request.overflow OVERFLOW_BLOCK, hold its publishers back) rather than
//     this process buffer without bound;
//   - Next(deadline), a blocking iterator over a small bounded hand-off queue.
//
// With SubscriberOptions::shared_stream, the subscriber is one subscription
// on a SubscribeStream call that many subscribers share; everything above
// holds for each, except that a slow handler slows every subscription on
// that stream (see shared_stream.h).
//
// Thread-safe. The destructor cancels the stream, interrupts any backoff
// wait and joins the thread; no handler call runs after it returns.
#ifndef EVENTBUS_CLIENT_SUBSCRIBER_H_
#define EVENTBUS_CLIENT_SUBSCRIBER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "client/backoff.h"
#include "client/shared_stream.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::client {

struct SubscriberNotice {
  enum class Kind {
    // A stream is open. `instance` and `sequence` (where it starts) are set.
    kConnected,
    // `event` arrived.
    kEvent,
    // `lagged`: a range of sequences lost for good.
    kLagged,
    // The stream broke: `status` says why; the subscriber retries after
    // `retry_in`, unless `final` (a permanent error such as a bad filter;
    // the subscriber has stopped).
    kDisconnected,
    // The daemon restarted: `previous_instance` to `instance`. Events of the
    // old instance after `sequence - 1` were not received and cannot be.
    kInstanceChanged,
  };
  Kind kind;
  v1::Event event;
  v1::Lagged lagged;
  absl::Status status;
  absl::Duration retry_in;
  bool final = false;
  std::string instance;
  std::string previous_instance;
  uint64_t sequence = 0;
};

struct SubscriberOptions {
  // Start position, filter and name of the first stream. Reconnects replace
  // the start position.
  v1::SubscribeRequest request;
  // When set, the subscriber is one subscription on this SubscribeStream
  // call, shared with the other subscribers given the same stream, instead
  // of a Subscribe stream of its own: the same notices, in the same order,
  // at a fraction of the daemon's memory. Its channel is the one used
  // (Start's `channel` may be null, or must be the same).
  std::shared_ptr<SharedStream> shared_stream;
  BackoffOptions backoff;
  // Capacity of Next()'s hand-off queue, in notices.
  size_t queue_capacity = 1024;
};

class Subscriber {
 public:
  using Handler = std::function<void(SubscriberNotice)>;

  // Starts a subscriber that calls `handler` for each notice.
  static absl::StatusOr<std::unique_ptr<Subscriber>> Start(
      std::shared_ptr<grpc::Channel> channel, SubscriberOptions options,
      Handler handler);
  // Starts a subscriber read with Next().
  static absl::StatusOr<std::unique_ptr<Subscriber>> Start(
      std::shared_ptr<grpc::Channel> channel, SubscriberOptions options);

  ~Subscriber();
  Subscriber(const Subscriber&) = delete;

  // Cancels the stream and stops reconnecting; Next() then returns what is
  // queued, then nullopt. Idempotent; the destructor calls it.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  Subscriber& operator=(const Subscriber&) = delete;

  // The next notice, or nullopt when `deadline` passed first or the
  // subscriber stopped for good. Only for subscribers started without a
  // handler.
  std::optional<SubscriberNotice> Next(absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Subscriber(std::shared_ptr<grpc::Channel> channel, SubscriberOptions options,
             Handler handler);
  struct StreamEnd {
    grpc::Status status;
    // The daemon restarted: the stream was dropped to start over from the
    // new instance's earliest event.
    bool restarted;
  };

  void Run();
  // Holds one stream until it ends.
  StreamEnd Stream(const v1::SubscribeRequest& request);
  // The same, as one subscription on options_.shared_stream.
  StreamEnd SharedSubscription(const v1::SubscribeRequest& request);
  // A stream is open at `instance`: reports a changed instance. True when
  // the stream must start over from the new instance's earliest event.
  bool CheckInstance(const std::string& instance, bool from_earliest);
  // The stream starts at `start`.
  void Connected(const std::string& instance, uint64_t start);
  // Hands over one response's lag notice and events.
  void Received(v1::SubscribeResponse* response);
  // To the handler, or to Next()'s queue (waiting for room).
  void Deliver(SubscriberNotice notice) ABSL_LOCKS_EXCLUDED(mu_);
  bool stopping() ABSL_LOCKS_EXCLUDED(mu_);

  const SubscriberOptions options_;
  const std::unique_ptr<v1::EventBusService::Stub> stub_;
  const Handler handler_;
  Backoff backoff_;

  // Owned by the subscriber's thread.
  std::optional<uint64_t> next_sequence_;
  std::string instance_;

  Mutex mu_;
  CondVar changed_{&mu_};
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The shared stream's inbox of the open subscription.
  std::shared_ptr<SharedStream::Inbox> inbox_ ABSL_GUARDED_BY(mu_);
  std::deque<SubscriberNotice> queue_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace eventbus::client

#endif  // EVENTBUS_CLIENT_SUBSCRIBER_H_

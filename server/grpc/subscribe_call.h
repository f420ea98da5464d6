// SubscribeCall: one Subscribe stream on gRPC's asynchronous API, the path
// every event takes on its way out.
//
// Each call lives on one IoThreads queue. Its operations (the request
// arriving, the headers sent, each write, a wake-up, the finish, the call's
// end) complete there, so the queue's one thread runs everything the call
// does: Begin admits the call, parses the request and registers a
// Subscription before the headers go out; Pump then takes everything
// available from the cursor (up to kMaxResponseEvents and the
// ResponseBudget's byte limit), notes any lag, writes one response, and
// repeats when the write completes. With nothing to read it arms a wake-up:
// the publisher's OnReadable sets the call's alarm to now on the call's
// queue, and the queue's thread pumps. When the bus ends the subscription
// (its overflow policy), the stream finishes with that status after the
// responses already written.
//
// Ownership: the call holds a reference to itself (self_) while any of its
// operations is pending or it has not ended; the bus holds a weak one.
//
// Threads: everything but OnReadable runs on the call's queue thread and
// needs no lock; mu_ guards what OnReadable shares with it (the alarm).
#ifndef EVENTBUS_SERVER_GRPC_SUBSCRIBE_CALL_H_
#define EVENTBUS_SERVER_GRPC_SUBSCRIBE_CALL_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/bus/bus.h"
#include "server/bus/subscription.h"
#include "server/grpc/io_threads.h"
#include "server/grpc/refusal_log.h"
#include "server/grpc/response_budget.h"
#include "server/grpc/service_metrics.h"
#include "server/security/admission.h"
#include "server/security/peer_limits.h"

namespace eventbus {

class SubscribeCall final : public SubscriptionWaker,
                            public std::enable_shared_from_this<SubscribeCall> {
 public:
  // Events in one Subscribe response at most. A subscriber that keeps up
  // gets each event as soon as its previous write is done, so batching adds
  // no latency; one that is behind gets up to this many, within the byte
  // limit the service's ResponseBudget gives.
  static constexpr size_t kMaxResponseEvents = 1024;
  // At most one lag warning per subscriber in this interval.
  static constexpr absl::Duration kLagWarningInterval = absl::Seconds(5);

  // Asks gRPC for the next Subscribe call (the service's RequestSubscribe).
  using Requester =
      std::function<void(grpc::ServerContext*, grpc::ByteBuffer*,
                         grpc::ServerAsyncWriter<grpc::ByteBuffer>*,
                         grpc::ServerCompletionQueue*, void*)>;

  // What every call of a service shares; all of it outlives the calls.
  struct Shared {
    Requester request;
    const Bus* bus = nullptr;
    const Admission* admission = nullptr;
    ResponseBudget* budget = nullptr;
    RefusalLog* refusals = nullptr;
    ServiceMetrics* metrics = nullptr;
    std::string instance_id;
    IoThreads* io = nullptr;
  };

  // Waits for a Subscribe call on queue `queue`; each call that arrives
  // waits for the next one.
  static void Await(const Shared* shared, int queue);

  // Use Await; public for std::make_shared.
  SubscribeCall(const Shared* shared, int queue);

  // On the publisher's thread: wake the call on its own queue.
  void OnReadable() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // What Pump() does after reading.
  enum class Next { kArmed, kWrite, kFinish };

  void OnAccepted(bool ok);
  void OnHeadersSent(bool ok);
  void OnWriteDone(bool ok);
  void OnWake(bool ok);
  void OnFinished(bool ok);
  void OnDone(bool ok);

  void Begin();
  // After the headers or a response went out (or failed to): pump on, or
  // finish.
  void AfterWrite(bool ok);
  void Pump();
  Next Fill();
  // Leaves the bus and finishes the stream (unless the queues stop).
  void StartFinish(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // Counts an operation about to start.
  void Started() ABSL_LOCKS_EXCLUDED(mu_);
  void NoteLag(const Lag& lag);
  // Observes publish-to-write for each event in batch_ (being written)
  // that was published after the call subscribed.
  void ObserveLatency();
  // Counts a completion; releases self_ once nothing is pending and the
  // call has ended.
  void Completed() ABSL_LOCKS_EXCLUDED(mu_);

  // First: destroyed last, once the members below are gone.
  IoThreads::CallToken token_;
  const Shared* const shared_;
  grpc::ServerCompletionQueue* const queue_;
  const int queue_index_;
  grpc::ServerContext context_;
  grpc::ByteBuffer request_;
  grpc::ServerAsyncWriter<grpc::ByteBuffer> writer_{&context_};
  MemberTag<SubscribeCall> accepted_tag_{this, &SubscribeCall::OnAccepted};
  MemberTag<SubscribeCall> headers_tag_{this, &SubscribeCall::OnHeadersSent};
  MemberTag<SubscribeCall> write_tag_{this, &SubscribeCall::OnWriteDone};
  MemberTag<SubscribeCall> wake_tag_{this, &SubscribeCall::OnWake};
  MemberTag<SubscribeCall> finish_tag_{this, &SubscribeCall::OnFinished};
  MemberTag<SubscribeCall> done_tag_{this, &SubscribeCall::OnDone};

  // The queue thread's alone.
  std::string peer_;
  PeerLimits::Lease peer_lease_;
  std::unique_ptr<Subscription> subscription_;
  ReadBatch batch_;
  grpc::ByteBuffer response_;
  // The headers or a response are being written.
  bool writing_ = false;
  bool finishing_ = false;  // StartFinish ran
  bool done_ = false;       // the call has ended (done_tag_)
  uint64_t missed_total_ = 0;
  // When it subscribed: events published before are a replay, left out of
  // the delivery latency.
  int64_t subscribed_at_nanos_ = 0;
  uint64_t missed_since_warning_ = 0;
  absl::Time last_lag_warning_ = absl::InfinitePast();
  grpc::Status end_status_;
  std::shared_ptr<SubscribeCall> self_;

  Mutex mu_;
  grpc::Alarm alarm_ ABSL_GUARDED_BY(mu_);
  // Operations started and not yet completed.
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool alarm_set_ ABSL_GUARDED_BY(mu_) = false;
  // Finish was started (or the queues stop): no more wake-ups.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_SUBSCRIBE_CALL_H_

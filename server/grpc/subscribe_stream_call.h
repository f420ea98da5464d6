// SubscribeStreamCall: one SubscribeStream call (bidirectional stream) on
// gRPC's asynchronous API: many subscriptions, each a Subscription of its
// own on the bus, sharing one HTTP/2 stream.
//
// Each call lives on one IoThreads queue, like a SubscribeCall, and that
// queue's thread does everything the call does. It keeps one read pending
// (AddSubscription and cancel requests) and one write in flight. What it
// writes, in this order of precedence:
//   - control responses (SubscriptionStarted, SubscriptionEnded), in the
//     order they arose; a subscription joins the ready queue only once its
//     SubscriptionStarted is written, and its SubscriptionEnded is queued
//     once it has nothing more to send, so both frame its events;
//   - one SubscribeResponse of the subscription at the head of the ready
//     queue (those with something to read, in the order they became
//     ready). After its response it goes to the back of the queue if it
//     may have more: the subscriptions with something to send take turns,
//     one response each, within the limits of one Subscribe response
//     (kMaxResponseEvents and the ResponseBudget). A subscription with a
//     large backlog thus delays another's next event by at most one
//     response per subscription with something to send.
// Control and event responses alternate while both wait, so a client that
// keeps adding and cancelling cannot starve the events.
// A subscription with nothing to read arms a wake-up of its own (a
// StreamWaker naming its id); the publisher's OnReadable records the id
// and sets the call's alarm to now, and the queue's thread moves the woken
// ids to the ready queue. Overflow and lag are each subscription's own,
// decided by its cursor in the ring, exactly as for Subscribe.
//
// Reading pauses while kMaxQueuedControl control responses wait to be
// written, so a client that adds and cancels without reading cannot grow
// the queue without bound.
//
// Ownership: the call holds a reference to itself (self_) while any of its
// operations is pending or it has not ended; each StreamWaker holds a weak
// one, and the bus a weak one to each StreamWaker.
//
// Threads: everything but Wake runs on the call's queue thread and needs no
// lock; mu_ guards what Wake shares with it (the woken ids and the alarm).
#ifndef EVENTBUS_SERVER_GRPC_SUBSCRIBE_STREAM_CALL_H_
#define EVENTBUS_SERVER_GRPC_SUBSCRIBE_STREAM_CALL_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
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

class SubscribeStreamCall final
    : public std::enable_shared_from_this<SubscribeStreamCall> {
 public:
  // Control responses waiting to be written before reading pauses.
  static constexpr size_t kMaxQueuedControl = 1024;

  using Stream =
      grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>;
  // Asks gRPC for the next SubscribeStream call (the service's
  // RequestSubscribeStream).
  using Requester = std::function<void(grpc::ServerContext*, Stream*,
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

  // Waits for a SubscribeStream call on queue `queue`; each call that
  // arrives waits for the next one.
  static void Await(const Shared* shared, int queue);

  // Use Await; public for std::make_shared.
  SubscribeStreamCall(const Shared* shared, int queue);

  // On the publisher's thread: subscription `id` (armed as `generation`)
  // has something to read.
  void Wake(uint64_t id, uint64_t generation) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One open subscription.
  struct Entry {
    uint64_t id = 0;
    // Tells a wake-up of this subscription from one of an earlier one that
    // had the same id.
    uint64_t generation = 0;
    PeerLimits::Lease lease;
    std::unique_ptr<Subscription> subscription;
    std::shared_ptr<SubscriptionWaker> waker;
    // In ready_ (or being read).
    bool ready = false;
    // When it subscribed: events published before are a replay, left out
    // of the delivery latency.
    int64_t subscribed_at_nanos = 0;
  };

  void OnAccepted(bool ok);
  void OnReadDone(bool ok);
  void OnWriteDone(bool ok);
  void OnWake(bool ok);
  void OnFinished(bool ok);
  void OnDone(bool ok);

  void Begin();
  void StartRead();
  // Reads the next request unless reading is done, pending or paused.
  void MaybeRead();
  // Parses the request just read and carries out its action.
  void HandleRequest();
  void Add(const v1::AddSubscription& add);
  void Cancel(uint64_t id);
  // Removes an open subscription, leaving the bus, and queues its end.
  void End(uint64_t id, const absl::Status& status);
  // Writes the oldest control response.
  void WriteControl();
  // Writes the next response if none is in flight, or finishes the call.
  void Pump();
  // Fills response_ from the ready subscriptions; false when none has
  // anything to send (each is armed).
  bool FillFromReady();
  void Write();
  // Leaves the bus with every subscription and finishes the stream.
  void StartFinish(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  void ObserveLatency(const Entry& entry);
  void NoteLag(const Entry& entry, const Lag& lag);
  // Counts an operation about to start.
  void Started() ABSL_LOCKS_EXCLUDED(mu_);
  // Counts a completion; releases self_ once nothing is pending and the
  // call has ended.
  void Completed() ABSL_LOCKS_EXCLUDED(mu_);

  // First: destroyed last, once the members below are gone.
  IoThreads::CallToken token_;
  const Shared* const shared_;
  grpc::ServerCompletionQueue* const queue_;
  const int queue_index_;
  grpc::ServerContext context_;
  Stream stream_{&context_};
  MemberTag<SubscribeStreamCall> accepted_tag_{
      this, &SubscribeStreamCall::OnAccepted};
  MemberTag<SubscribeStreamCall> read_tag_{this,
                                           &SubscribeStreamCall::OnReadDone};
  MemberTag<SubscribeStreamCall> write_tag_{this,
                                            &SubscribeStreamCall::OnWriteDone};
  MemberTag<SubscribeStreamCall> wake_tag_{this, &SubscribeStreamCall::OnWake};
  MemberTag<SubscribeStreamCall> finish_tag_{this,
                                             &SubscribeStreamCall::OnFinished};
  MemberTag<SubscribeStreamCall> done_tag_{this, &SubscribeStreamCall::OnDone};

  // The queue thread's alone.
  std::string peer_;
  grpc::ByteBuffer raw_request_;
  uint64_t requests_read_ = 0;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Entry>> entries_;
  // Entries (id, generation) with something to read, in turn.
  std::deque<std::pair<uint64_t, uint64_t>> ready_;
  // A SubscriptionStarted or SubscriptionEnded response, serialized.
  struct Control {
    grpc::ByteBuffer bytes;
    // For SubscriptionStarted: the entry (id, generation) that may send
    // events once this is written, never before.
    std::optional<std::pair<uint64_t, uint64_t>> starts;
    // For SubscriptionEnded: the subscription and its peer slot, released
    // once the response is written.
    std::unique_ptr<Subscription> leaving;
    PeerLimits::Lease lease;
  };
  std::deque<Control> control_;
  // The subscription (and slot) of the SubscriptionEnded being written.
  std::unique_ptr<Subscription> leaving_;
  PeerLimits::Lease leaving_lease_;
  // An add refused for a limit while leaving_ still held a slot: the
  // client may have read that SubscriptionEnded already (the write is out
  // before its completion runs), so the add is tried again once leaving_
  // is released. Reading waits meanwhile, to keep the requests' order.
  std::optional<v1::AddSubscription> deferred_add_;
  // The last response written was a control one: the next goes to the
  // ready subscriptions if any, so adds and cancels cannot starve events.
  bool last_was_control_ = false;
  // Every subscription, from StartFinish until the status is out.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Entry>> finished_;
  std::vector<Control> finishing_leaving_;
  uint64_t next_generation_ = 1;
  ReadBatch batch_;
  grpc::ByteBuffer response_;
  // A response written with events counts against the budget.
  bool response_budgeted_ = false;
  bool reading_ = false;
  bool reads_done_ = false;  // the client half-closed, or the call ended
  bool writing_ = false;     // the headers or a response are being written
  bool finishing_ = false;   // StartFinish ran
  bool done_ = false;        // the call has ended (done_tag_)
  bool drained_ = false;     // a subscription saw the bus closed
  // Why the stream ends early (a request that does not parse).
  absl::Status error_;
  uint64_t missed_since_warning_ = 0;
  absl::Time last_lag_warning_ = absl::InfinitePast();
  std::shared_ptr<SubscribeStreamCall> self_;

  Mutex mu_;
  grpc::Alarm alarm_ ABSL_GUARDED_BY(mu_);
  // Ids (with their generation) woken since the last OnWake.
  std::vector<std::pair<uint64_t, uint64_t>> woken_ ABSL_GUARDED_BY(mu_);
  // Operations started and not yet completed.
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool alarm_set_ ABSL_GUARDED_BY(mu_) = false;
  // Finish was started (or the queues stop): no more wake-ups.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_SUBSCRIBE_STREAM_CALL_H_

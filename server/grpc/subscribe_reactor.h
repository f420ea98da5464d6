// SubscribeReactor: one Subscribe stream, the path every event takes on its
// way out. Begin admits the call, parses the request and registers a
// Subscription before the response headers go out; from then on, Pump
// takes everything available from the subscription's cursor (up to
// kMaxResponseEvents and the ResponseBudget's byte limit), notes any lag,
// writes one response, and repeats from OnWriteDone; with nothing to read it
// arms a wake-up, and the publisher's OnReadable posts it to the
// DeliveryQueue, whose thread calls Run. When the bus ends the subscription
// (its overflow policy, subscription.h), the stream finishes with that
// status after the responses already written.
//
// Ownership: gRPC holds the raw pointer Start returns; the reactor holds a
// reference to itself (self_) from Start until gRPC calls OnDone, and the
// bus and the delivery queue hold only weak references. It owns its
// Subscription and its peer's subscription slot.
//
// Locking: mu_ guards the stream state; it is never held while calling into
// gRPC (StartWrite, Finish). Order: mu_, then the bus's lock (TryRead, Arm).
#ifndef EVENTBUS_SERVER_GRPC_SUBSCRIBE_REACTOR_H_
#define EVENTBUS_SERVER_GRPC_SUBSCRIBE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/bus/bus.h"
#include "server/bus/subscription.h"
#include "server/grpc/delivery_queue.h"
#include "server/grpc/refusal_log.h"
#include "server/grpc/response_budget.h"
#include "server/security/admission.h"
#include "server/security/peer_limits.h"

namespace eventbus {

class SubscribeReactor final
    : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
      public SubscriptionWaker,
      public DeliveryQueue::Task,
      public std::enable_shared_from_this<SubscribeReactor> {
 public:
  // Events in one Subscribe response at most. A subscriber that keeps up
  // gets each event as soon as its previous write is done, so batching adds
  // no latency; one that is behind gets up to this many, within the byte
  // limit the service's ResponseBudget gives (~120 events of 256 bytes at
  // most, enough to amortize the cost of a write).
  static constexpr size_t kMaxResponseEvents = 1024;
  // At most one lag warning per subscriber in this interval.
  static constexpr absl::Duration kLagWarningInterval = absl::Seconds(5);

  // Starts the stream of `context` for the raw SubscribeRequest `request`.
  // A refused call (admission, a bad request, the bus) finishes at once
  // with its status, logged to `refusals`. `delivery`, `budget` and
  // `refusals` must outlive the stream.
  static SubscribeReactor* Start(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer& request,
                                 const Bus& bus, const Admission& admission,
                                 DeliveryQueue* delivery,
                                 ResponseBudget* budget, RefusalLog* refusals);

  // Use Start; public for std::make_shared.
  SubscribeReactor(grpc::CallbackServerContext* context,
                   DeliveryQueue* delivery, ResponseBudget* budget)
      : peer_(context->peer()), delivery_(delivery), budget_(budget) {}

  // On the publisher's thread: hand the write to a delivery thread.
  void OnReadable() override { delivery_->Post(weak_from_this()); }
  // On a delivery thread.
  void Run() override { Pump(); }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // What Pump() does after reading.
  enum class Next { kArmed, kWrite, kFinish, kCancel };

  void Begin(grpc::CallbackServerContext* context,
             const grpc::ByteBuffer& request, const Bus& bus,
             const Admission& admission, RefusalLog* refusals)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Writes what is available, or finishes the stream once the bus is closed
  // and drained, or arms a wake-up when there is nothing to write.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);

  // Reads what is available into response_, or arms a wake-up when there is
  // nothing. Returns what Pump() does next.
  Next Fill() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Counts the loss and logs it, at most once per kLagWarningInterval.
  void NoteLag(const Lag& lag) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string peer_;
  // The service's; outlive every stream.
  DeliveryQueue* const delivery_;
  ResponseBudget* const budget_;
  // The peer's subscription slot, held until the reactor is destroyed.
  // Written once, in Begin, before any other callback can run.
  PeerLimits::Lease peer_lease_;
  Mutex mu_;
  std::unique_ptr<Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  ReadBatch batch_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // The status kFinish ends the stream with: OK after a drain, the bus's
  // reason when it ended the subscription (its overflow policy).
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
  uint64_t missed_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t missed_since_warning_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_lag_warning_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Written under mu_ before StartWrite; gRPC reads it until OnWriteDone.
  grpc::ByteBuffer response_;
  std::shared_ptr<SubscribeReactor> self_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_SUBSCRIBE_REACTOR_H_

#include "server/event_bus_service.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "server/mutex.h"
#include "server/publish_stream_reactor.h"
#include "server/response_encoding.h"
#include "server/status_macros.h"

namespace eventbus {
namespace {

// Events in one Subscribe response at most. A subscriber that keeps up gets
// each event as soon as its previous write is done, so batching adds no
// latency; one that is behind gets up to this many, within the byte limit
// the service's ResponseBudget gives (~120 events of 256 bytes at most,
// enough to amortize the cost of a write).
constexpr size_t kMaxResponseEvents = 1024;
// At most one lag warning per subscriber in this interval.
constexpr absl::Duration kLagWarningInterval = absl::Seconds(5);

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::StatusOr<v1::SubscribeRequest> ParseSubscribeRequest(
    const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  v1::SubscribeRequest request;
  if (!buffer.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("cannot read the SubscribeRequest");
  }
  std::string bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (!request.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        "the request is not a valid eventbus.v1.SubscribeRequest");
  }
  return request;
}

// One Subscribe stream. Owns its Subscription. The bus wakes it through a
// weak reference (OnReadable), so it holds a reference to itself from start
// until gRPC calls OnDone.
//
// Locking: mu_ guards the stream state; it is never held while calling into
// gRPC (StartWrite, Finish). Order: mu_, then the bus's lock (TryRead, Arm).
class SubscribeReactor final
    : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
      public SubscriptionWaker,
      public DeliveryQueue::Task,
      public std::enable_shared_from_this<SubscribeReactor> {
  // What Pump() does after reading.
  enum class Next { kArmed, kWrite, kFinish, kCancel };

 public:
  static SubscribeReactor* Start(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer& request,
                                 const Bus& bus, const Admission& admission,
                                 DeliveryQueue* delivery,
                                 ResponseBudget* budget) {
    auto reactor =
        std::make_shared<SubscribeReactor>(context, delivery, budget);
    {
      MutexLock lock(&reactor->mu_);
      reactor->self_ = reactor;
    }
    reactor->Begin(context, request, bus, admission);
    return reactor.get();
  }

  SubscribeReactor(grpc::CallbackServerContext* context,
                   DeliveryQueue* delivery, ResponseBudget* budget)
      : peer_(context->peer()), delivery_(delivery), budget_(budget) {}

  // On the publisher's thread: hand the write to a delivery thread.
  void OnReadable() override { delivery_->Post(weak_from_this()); }
  // On a delivery thread.
  void Run() override { Pump(); }

  void OnWriteDone(bool ok) override {
    budget_->WriteDone();
    {
      MutexLock lock(&mu_);
      writing_ = false;
      if (ok && !cancelled_) {
        // Fall through to Pump() below, outside the lock.
      } else if (finished_) {
        return;
      } else {
        finished_ = true;
        ok = false;
      }
    }
    if (ok) {
      Pump();
    } else {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
    }
  }

  void OnCancel() override {
    {
      MutexLock lock(&mu_);
      cancelled_ = true;
      // With a write in flight, OnWriteDone finishes the stream.
      if (writing_ || finished_) return;
      finished_ = true;
    }
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
  }

  void OnDone() override {
    std::shared_ptr<SubscribeReactor> self;
    {
      MutexLock lock(&mu_);
      subscription_.reset();  // leaves the bus now
      self = std::move(self_);
    }
    // `self` may be the last reference: this is destroyed on return.
  }

 private:
  void Begin(grpc::CallbackServerContext* context,
             const grpc::ByteBuffer& request, const Bus& bus,
             const Admission& admission) {
    absl::StatusOr<std::unique_ptr<Subscription>> subscription =
        [&]() -> absl::StatusOr<std::unique_ptr<Subscription>> {
      EVENTBUS_ASSIGN_OR_RETURN(peer_lease_,
                                admission.AdmitSubscriber(*context));
      EVENTBUS_ASSIGN_OR_RETURN(v1::SubscribeRequest parsed,
                                ParseSubscribeRequest(request));
      EVENTBUS_RETURN_IF_ERROR(admission.CheckFilter(parsed.filter()));
      EVENTBUS_ASSIGN_OR_RETURN(SubscribeOptions options,
                                SubscribeOptions::FromRequest(parsed));
      return bus.Subscribe(std::move(options));
    }();
    if (!subscription.ok()) {
      spdlog::info("subscribe from {} refused: {}", peer_,
                   subscription.status().ToString());
      {
        MutexLock lock(&mu_);
        finished_ = true;
      }
      Finish(ToGrpc(subscription.status()));
      return;
    }
    {
      MutexLock lock(&mu_);
      subscription_ = std::move(*subscription);
      context->AddInitialMetadata(EventBusService::kStartSequenceKey,
                                  std::to_string(subscription_->cursor()));
      spdlog::debug("subscriber '{}' ({}) starts at sequence {}",
                    subscription_->name(), peer_, subscription_->cursor());
    }
    // Registered before the headers go out: every event published after the
    // client sees them reaches it.
    StartSendInitialMetadata();
    Pump();
  }

  // Writes what is available, or finishes the stream once the bus is closed
  // and drained, or arms a wake-up when there is nothing to write.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_) {
    Next next;
    {
      MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      next = cancelled_ ? Next::kCancel : Fill();
      if (next == Next::kWrite) writing_ = true;
      if (next == Next::kFinish || next == Next::kCancel) finished_ = true;
    }
    switch (next) {
      case Next::kArmed:
        break;
      case Next::kWrite:
        budget_->WriteStarted();
        StartWrite(&response_);
        break;
      case Next::kFinish:
        Finish(grpc::Status::OK);
        break;
      case Next::kCancel:
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
        break;
    }
  }

  // Reads what is available into response_, or arms a wake-up when there is
  // nothing. Returns what Pump() does next.
  Next Fill() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (true) {
      subscription_->TryRead(
          {.max_events = kMaxResponseEvents, .max_bytes = budget_->NextLimit()},
          &batch_);
      if (batch_.end_of_stream) return Next::kFinish;
      if (!batch_.empty()) {
        if (batch_.lag) NoteLag(*batch_.lag);
        grpc::Slice slice(SubscribeResponseSize(batch_));
        // A fresh slice is ours alone until it is handed to gRPC.
        WriteSubscribeResponse(batch_, const_cast<uint8_t*>(slice.begin()));
        response_ = grpc::ByteBuffer(&slice, 1);
        batch_.Clear();  // the bytes are in the slice; release the events
        return Next::kWrite;
      }
      if (subscription_->Arm(weak_from_this())) return Next::kArmed;
    }
  }

  // Counts the loss and logs it, at most once per kLagWarningInterval.
  void NoteLag(const Lag& lag) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    missed_total_ += lag.missed();
    missed_since_warning_ += lag.missed();
    const absl::Time now = absl::Now();
    if (now - last_lag_warning_ < kLagWarningInterval) return;
    spdlog::warn(
        "subscriber '{}' ({}) is lagging: lost {} events since the last "
        "warning (latest range {}..{}), {} in total",
        subscription_->name(), peer_, missed_since_warning_, lag.first_sequence,
        lag.last_sequence, missed_total_);
    missed_since_warning_ = 0;
    last_lag_warning_ = now;
  }

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
  uint64_t missed_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t missed_since_warning_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_lag_warning_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Written under mu_ before StartWrite; gRPC reads it until OnWriteDone.
  grpc::ByteBuffer response_;
  std::shared_ptr<SubscribeReactor> self_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerUnaryReactor* EventBusService::Publish(
    grpc::CallbackServerContext* context, const v1::PublishRequest* request,
    v1::PublishResponse* response) {
  context->AddInitialMetadata(kInstanceKey, instance_id_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status admitted =
          admission_.AdmitPublish(*context, request->event());
      !admitted.ok()) {
    spdlog::debug("publish from {} refused: {}", context->peer(),
                  admitted.ToString());
    reactor->Finish(ToGrpc(admitted));
    return reactor;
  }
  if (!request->has_event()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "PublishRequest.event is required"));
    return reactor;
  }
  absl::StatusOr<PublishResult> result = bus_.Publish(request->event());
  if (!result.ok()) {
    spdlog::debug("publish from {} refused: {}", context->peer(),
                  result.status().ToString());
    reactor->Finish(ToGrpc(result.status()));
    return reactor;
  }
  spdlog::debug("published sequence={} id={} source={} subscribers={}",
                result->sequence, result->id, request->event().source(),
                result->subscribers);
  response->set_sequence(result->sequence);
  response->set_id(std::move(result->id));
  response->set_subscribers(static_cast<uint32_t>(result->subscribers));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventBusService::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  context->AddInitialMetadata(kInstanceKey, instance_id_);
  return SubscribeReactor::Start(context, *request, bus_, admission_,
                                 delivery_.get(), &response_budget_);
}

grpc::ServerBidiReactor<v1::PublishStreamRequest, v1::PublishStreamResponse>*
EventBusService::PublishStream(grpc::CallbackServerContext* context) {
  context->AddInitialMetadata(kInstanceKey, instance_id_);
  if (absl::Status admitted = admission_.AuthorizePublisher(*context);
      !admitted.ok()) {
    spdlog::debug("publish stream from {} refused: {}", context->peer(),
                  admitted.ToString());
    return new RefusedBidiStream<v1::PublishStreamRequest,
                                 v1::PublishStreamResponse>(ToGrpc(admitted));
  }
  return new PublishStreamReactor(context, bus_, admission_);
}

}  // namespace eventbus

#include "server/grpc/held_publish_reactor.h"

#include <utility>

#include "absl/time/clock.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/raw_message.h"

namespace eventbus {

namespace {

// Sets `*alarm` to call `waiter`'s OnMayPublish at `when` (unless the
// waiter is gone by then), replacing (and cancelling) any earlier alarm.
void PostAt(absl::Time when, std::weak_ptr<PublishWaiter> waiter,
            std::unique_ptr<grpc::Alarm>* alarm) {
  *alarm = std::make_unique<grpc::Alarm>();
  // A cancelled alarm (ok false) does nothing; a fired one reaches the
  // waiter only while it exists, and never touches the service.
  (*alarm)->Set(absl::ToChronoTime(when),
                [waiter = std::move(waiter)](bool ok) {
                  if (!ok) return;
                  if (auto alive = waiter.lock()) alive->OnMayPublish();
                });
}

}  // namespace

HeldPublishReactor* HeldPublishReactor::Start(
    grpc::CallbackServerContext* context, const Bus& bus, PreparedEvent event,
    grpc::ByteBuffer* response, DeliveryQueue* delivery,
    ServiceMetrics* metrics) {
  auto reactor = std::make_shared<HeldPublishReactor>(
      context, bus, std::move(event), response, delivery, metrics);
  {
    MutexLock lock(&reactor->mu_);
    reactor->self_ = reactor;
  }
  reactor->Attempt();
  return reactor.get();
}

HeldPublishReactor::HeldPublishReactor(grpc::CallbackServerContext* context,
                                       const Bus& bus, PreparedEvent event,
                                       grpc::ByteBuffer* response,
                                       DeliveryQueue* delivery,
                                       ServiceMetrics* metrics)
    : context_(context),
      bus_(bus),
      response_(response),
      delivery_(delivery),
      metrics_(metrics),
      event_(std::move(event)) {}

void HeldPublishReactor::Attempt() {
  grpc::Status status;
  {
    MutexLock lock(&mu_);
    // A call that ended (OnCancel finishes it) is never published, even
    // when room was made before gRPC told us.
    if (finished_ || context_->IsCancelled() ||
        context_->deadline() <= std::chrono::system_clock::now()) {
      return;
    }
    absl::StatusOr<PublishAttempt> attempt =
        bus_.TryPublish(&*event_, weak_from_this());
    if (attempt.ok() && !attempt->published) {
      // Set anew each time: an earlier alarm may have fired already.
      PostAt(attempt->retry_by, weak_from_this(), &alarm_);
      return;
    }
    finished_ = true;
    event_.reset();
    if (!attempt.ok()) {
      status = ToGrpcStatus(attempt.status());
    } else {
      v1::PublishResponse response;
      response.set_sequence(attempt->published->sequence);
      response.set_id(std::move(attempt->published->id));
      response.set_subscribers(
          static_cast<uint32_t>(attempt->published->subscribers));
      *response_ = SerializeRawMessage(response);
    }
  }
  End(status);
}

void HeldPublishReactor::End(const grpc::Status& status) {
  if (!status.ok()) metrics_->PublishRejected(status.error_code());
  Finish(status);
}

void HeldPublishReactor::OnCancel() {
  {
    MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    event_.reset();  // never published
  }
  const bool expired = context_->deadline() <= std::chrono::system_clock::now();
  End(grpc::Status(
      expired ? grpc::StatusCode::DEADLINE_EXCEEDED
              : grpc::StatusCode::CANCELLED,
      "a subscriber with overflow BLOCK held the publish back until the call "
      "ended; nothing was published"));
}

void HeldPublishReactor::OnDone() {
  std::shared_ptr<HeldPublishReactor> self;
  {
    MutexLock lock(&mu_);
    alarm_.reset();
    self = std::move(self_);
  }
  // `self` may be the last reference: this is destroyed on return.
}

}  // namespace eventbus

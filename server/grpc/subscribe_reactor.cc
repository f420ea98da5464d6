#include "server/grpc/subscribe_reactor.h"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "base/metadata.h"
#include "base/status_macros.h"
#include "base/text.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/response_encoding.h"
#include "server/grpc/subscribe_request.h"

namespace eventbus {

SubscribeReactor* SubscribeReactor::Start(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer& request,
    const Bus& bus, const Admission& admission, DeliveryQueue* delivery,
    ResponseBudget* budget, RefusalLog* refusals) {
  auto reactor = std::make_shared<SubscribeReactor>(context, delivery, budget);
  {
    MutexLock lock(&reactor->mu_);
    reactor->self_ = reactor;
  }
  reactor->Begin(context, request, bus, admission, refusals);
  return reactor.get();
}

void SubscribeReactor::OnWriteDone(bool ok) {
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

void SubscribeReactor::OnCancel() {
  {
    MutexLock lock(&mu_);
    cancelled_ = true;
    // With a write in flight, OnWriteDone finishes the stream.
    if (writing_ || finished_) return;
    finished_ = true;
  }
  Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
}

void SubscribeReactor::OnDone() {
  std::shared_ptr<SubscribeReactor> self;
  {
    MutexLock lock(&mu_);
    subscription_.reset();  // leaves the bus now
    self = std::move(self_);
  }
  // `self` may be the last reference: this is destroyed on return.
}

void SubscribeReactor::Begin(grpc::CallbackServerContext* context,
                             const grpc::ByteBuffer& request, const Bus& bus,
                             const Admission& admission, RefusalLog* refusals) {
  absl::StatusOr<std::unique_ptr<Subscription>> subscription =
      [&]() -> absl::StatusOr<std::unique_ptr<Subscription>> {
    EVENTBUS_ASSIGN_OR_RETURN(peer_lease_, admission.AdmitSubscriber(*context));
    EVENTBUS_ASSIGN_OR_RETURN(v1::SubscribeRequest parsed,
                              ParseSubscribeRequest(request));
    EVENTBUS_RETURN_IF_ERROR(admission.CheckFilter(parsed.filter()));
    EVENTBUS_ASSIGN_OR_RETURN(SubscribeOptions options,
                              SubscribeOptionsFromRequest(parsed));
    return bus.Subscribe(std::move(options));
  }();
  if (!subscription.ok()) {
    refusals->Refused(RefusalLog::Level::kInfo, "subscribe", peer_,
                      subscription.status());
    {
      MutexLock lock(&mu_);
      finished_ = true;
    }
    Finish(ToGrpcStatus(subscription.status()));
    return;
  }
  {
    MutexLock lock(&mu_);
    subscription_ = std::move(*subscription);
    context->AddInitialMetadata(kStartSequenceMetadataKey,
                                std::to_string(subscription_->cursor()));
    spdlog::debug("subscriber '{}' ({}) starts at sequence {}, overflow {}",
                  EscapeForLog(subscription_->name()), EscapeForLog(peer_),
                  subscription_->cursor(),
                  OverflowName(subscription_->overflow()));
  }
  // Registered before the headers go out: every event published after the
  // client sees them reaches it.
  StartSendInitialMetadata();
  Pump();
}

void SubscribeReactor::Pump() {
  Next next;
  grpc::Status end_status;
  {
    MutexLock lock(&mu_);
    if (writing_ || finished_) return;
    next = cancelled_ ? Next::kCancel : Fill();
    if (next == Next::kWrite) writing_ = true;
    if (next == Next::kFinish || next == Next::kCancel) finished_ = true;
    end_status = end_status_;
  }
  switch (next) {
    case Next::kArmed:
      break;
    case Next::kWrite:
      budget_->WriteStarted();
      StartWrite(&response_);
      break;
    case Next::kFinish:
      Finish(end_status);
      break;
    case Next::kCancel:
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
      break;
  }
}

SubscribeReactor::Next SubscribeReactor::Fill() {
  while (true) {
    subscription_->TryRead(
        {.max_events = kMaxResponseEvents, .max_bytes = budget_->NextLimit()},
        &batch_);
    if (batch_.end_of_stream) return Next::kFinish;
    if (!batch_.ended.ok()) {
      spdlog::warn("subscriber '{}' ({}) ended: {}",
                   EscapeForLog(subscription_->name()), EscapeForLog(peer_),
                   std::string(batch_.ended.message()));
      end_status_ = ToGrpcStatus(batch_.ended);
      return Next::kFinish;
    }
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

void SubscribeReactor::NoteLag(const Lag& lag) {
  missed_total_ += lag.missed();
  missed_since_warning_ += lag.missed();
  const absl::Time now = absl::Now();
  if (now - last_lag_warning_ < kLagWarningInterval) return;
  spdlog::warn(
      "subscriber '{}' ({}) is lagging: lost {} events since the last "
      "warning (latest range {}..{}), {} in total",
      EscapeForLog(subscription_->name()), EscapeForLog(peer_),
      missed_since_warning_, lag.first_sequence, lag.last_sequence,
      missed_total_);
  missed_since_warning_ = 0;
  last_lag_warning_ = now;
}

}  // namespace eventbus

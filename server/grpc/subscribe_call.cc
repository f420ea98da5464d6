#include "server/grpc/subscribe_call.h"

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

void SubscribeCall::Await(const Shared* shared, int queue) {
  auto call = std::make_shared<SubscribeCall>(shared, queue);
  call->self_ = call;
  // Delivered once the call ends, if it arrives at all.
  call->context_.AsyncNotifyWhenDone(&call->done_tag_);
  call->Started();
  shared->request(&call->context_, &call->request_, &call->writer_,
                  call->queue_, &call->accepted_tag_);
}

SubscribeCall::SubscribeCall(const Shared* shared, int queue)
    : token_(shared->io),
      shared_(shared),
      queue_(shared->io->queue(queue)),
      queue_index_(queue) {}

void SubscribeCall::OnReadable() {
  MutexLock lock(&mu_);
  if (closing_ || alarm_set_) return;
  alarm_set_ = true;
  ++pending_;
  // Due at once: the queue's thread pumps the call next. (Not "now": Set
  // rounds a deadline up to the next millisecond, so now would wait for a
  // timer tick; the infinite past completes at once.)
  alarm_.Set(queue_, gpr_inf_past(GPR_CLOCK_MONOTONIC), &wake_tag_);
}

void SubscribeCall::OnAccepted(bool ok) {
  if (!ok) {
    // The server is shutting down: no call came, and no end will.
    {
      MutexLock lock(&mu_);
      closing_ = true;
    }
    Completed();
    return;
  }
  Started();  // the end of the call (done_tag_)
  if (!shared_->io->stopping()) Await(shared_, queue_index_);
  Begin();
  Completed();
}

void SubscribeCall::Begin() {
  peer_ = context_.peer();
  context_.AddInitialMetadata(kInstanceMetadataKey, shared_->instance_id);
  absl::StatusOr<std::unique_ptr<Subscription>> subscription =
      [&]() -> absl::StatusOr<std::unique_ptr<Subscription>> {
    EVENTBUS_ASSIGN_OR_RETURN(peer_lease_,
                              shared_->admission->AdmitSubscriber(context_));
    EVENTBUS_ASSIGN_OR_RETURN(v1::SubscribeRequest parsed,
                              ParseSubscribeRequest(request_));
    EVENTBUS_RETURN_IF_ERROR(shared_->admission->CheckFilter(parsed.filter()));
    EVENTBUS_ASSIGN_OR_RETURN(SubscribeOptions options,
                              SubscribeOptionsFromRequest(parsed));
    options.peer = peer_;
    return shared_->bus->Subscribe(std::move(options));
  }();
  request_.Clear();
  if (!subscription.ok()) {
    shared_->metrics->SubscribeRejected(subscription.status().code());
    shared_->refusals->Refused(RefusalLog::Level::kInfo, "subscribe", peer_,
                               subscription.status());
    StartFinish(ToGrpcStatus(subscription.status()));
    return;
  }
  subscription_ = *std::move(subscription);
  subscribed_at_nanos_ = absl::ToUnixNanos(absl::Now());
  context_.AddInitialMetadata(kStartSequenceMetadataKey,
                              std::to_string(subscription_->cursor()));
  spdlog::debug("subscriber '{}' ({}) starts at sequence {}, overflow {}",
                EscapeForLog(subscription_->name()), EscapeForLog(peer_),
                subscription_->cursor(),
                OverflowName(subscription_->overflow()));
  // Registered before the headers go out: every event published after the
  // client sees them reaches it.
  writing_ = true;
  Started();
  writer_.SendInitialMetadata(&headers_tag_);
}

void SubscribeCall::OnHeadersSent(bool ok) { AfterWrite(ok); }

void SubscribeCall::OnWriteDone(bool ok) {
  shared_->budget->WriteDone();
  AfterWrite(ok);
}

void SubscribeCall::AfterWrite(bool ok) {
  writing_ = false;
  if (ok && !done_) {
    Pump();
  } else if (!finishing_) {
    StartFinish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
  }
  Completed();
}

void SubscribeCall::OnWake(bool ok) {
  {
    MutexLock lock(&mu_);
    alarm_set_ = false;
  }
  if (ok && !done_) Pump();
  Completed();
}

void SubscribeCall::OnFinished(bool /*ok*/) {
  // Left only now: a drain counts this stream until its status is out.
  subscription_.reset();
  Completed();
}

void SubscribeCall::OnDone(bool /*ok*/) {
  done_ = true;
  // A write in flight fails now and finishes the stream itself.
  if (!finishing_ && !writing_) {
    StartFinish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
  }
  Completed();
}

void SubscribeCall::Pump() {
  if (writing_ || finishing_) return;
  switch (Fill()) {
    case Next::kArmed:
      break;
    case Next::kWrite:
      writing_ = true;
      shared_->budget->WriteStarted();
      Started();
      writer_.Write(response_, &write_tag_);
      break;
    case Next::kFinish:
      StartFinish(end_status_);
      break;
  }
}

SubscribeCall::Next SubscribeCall::Fill() {
  while (true) {
    subscription_->TryRead({.max_events = kMaxResponseEvents,
                            .max_bytes = shared_->budget->NextLimit()},
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
      if (!batch_.events.empty()) ObserveLatency();
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

void SubscribeCall::ObserveLatency() {
  const int64_t now = absl::ToUnixNanos(absl::Now());
  Histogram::Tally latency(&shared_->metrics->delivery_latency());
  for (const auto& event : batch_.events) {
    // A replay (from_sequence, from_earliest, the log) is not latency.
    if (event->publish_nanos() < subscribed_at_nanos_) continue;
    latency.ObserveNanos(now - event->publish_nanos());
  }
}

void SubscribeCall::StartFinish(const grpc::Status& status) {
  finishing_ = true;
  if (subscription_ != nullptr) {
    shared_->metrics->SubscriptionEnded(status.error_code());
  }
  {
    MutexLock lock(&mu_);
    closing_ = true;
    if (alarm_set_) alarm_.Cancel();  // its completion still comes
  }
  Started();
  writer_.Finish(status, &finish_tag_);
}

void SubscribeCall::NoteLag(const Lag& lag) {
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

void SubscribeCall::Started() {
  MutexLock lock(&mu_);
  ++pending_;
}

void SubscribeCall::Completed() {
  std::shared_ptr<SubscribeCall> last;
  {
    MutexLock lock(&mu_);
    if (--pending_ == 0) last = std::move(self_);
  }
  // `last` may be the final reference: this is destroyed on return.
}

}  // namespace eventbus

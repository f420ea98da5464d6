#include "server/grpc/subscribe_stream_call.h"

#include <google/protobuf/io/coded_stream.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/metadata.h"
#include "base/status_macros.h"
#include "base/text.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/raw_message.h"
#include "server/grpc/response_encoding.h"
#include "server/grpc/subscribe_call.h"
#include "server/grpc/subscribe_request.h"

namespace eventbus {
namespace {

using google::protobuf::io::CodedOutputStream;

// Wakes one subscription of a stream.
class StreamWaker final : public SubscriptionWaker {
 public:
  StreamWaker(std::weak_ptr<SubscribeStreamCall> call, uint64_t id,
              uint64_t generation)
      : call_(std::move(call)), id_(id), generation_(generation) {}

  void OnReadable() override {
    if (std::shared_ptr<SubscribeStreamCall> call = call_.lock()) {
      call->Wake(id_, generation_);
    }
  }

 private:
  const std::weak_ptr<SubscribeStreamCall> call_;
  const uint64_t id_;
  const uint64_t generation_;
};

// SubscribeStreamResponse field numbers, wire type 2 (length-delimited) or
// 0 (varint).
constexpr uint8_t kSubscriptionIdTag = (1 << 3) | 0;
constexpr uint8_t kResponseTag = (3 << 3) | 2;

grpc::ByteBuffer StartedResponse(uint64_t id, uint64_t start_sequence) {
  v1::SubscribeStreamResponse response;
  response.set_subscription_id(id);
  response.mutable_started()->set_start_sequence(start_sequence);
  return SerializeRawMessage(response);
}

grpc::ByteBuffer EndedResponse(uint64_t id, const absl::Status& status) {
  v1::SubscribeStreamResponse response;
  response.set_subscription_id(id);
  v1::SubscriptionEnded* ended = response.mutable_ended();
  ended->set_code(static_cast<int32_t>(status.code()));
  ended->set_message(std::string(status.message()));
  return SerializeRawMessage(response);
}

}  // namespace

void SubscribeStreamCall::Await(const Shared* shared, int queue) {
  auto call = std::make_shared<SubscribeStreamCall>(shared, queue);
  call->self_ = call;
  // Delivered once the call ends, if it arrives at all.
  call->context_.AsyncNotifyWhenDone(&call->done_tag_);
  call->Started();
  shared->request(&call->context_, &call->stream_, call->queue_,
                  &call->accepted_tag_);
}

SubscribeStreamCall::SubscribeStreamCall(const Shared* shared, int queue)
    : token_(shared->io),
      shared_(shared),
      queue_(shared->io->queue(queue)),
      queue_index_(queue) {}

void SubscribeStreamCall::Wake(uint64_t id, uint64_t generation) {
  MutexLock lock(&mu_);
  if (closing_) return;
  woken_.emplace_back(id, generation);
  if (alarm_set_) return;
  alarm_set_ = true;
  ++pending_;
  // Due at once (see SubscribeCall::OnReadable).
  alarm_.Set(queue_, gpr_inf_past(GPR_CLOCK_MONOTONIC), &wake_tag_);
}

void SubscribeStreamCall::OnAccepted(bool ok) {
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

void SubscribeStreamCall::Begin() {
  peer_ = context_.peer();
  context_.AddInitialMetadata(kInstanceMetadataKey, shared_->instance_id);
  writing_ = true;
  Started();
  stream_.SendInitialMetadata(&write_tag_);
  StartRead();
}

void SubscribeStreamCall::StartRead() {
  reading_ = true;
  Started();
  stream_.Read(&raw_request_, &read_tag_);
}

void SubscribeStreamCall::MaybeRead() {
  if (reading_ || reads_done_ || finishing_ || deferred_add_ ||
      control_.size() >= kMaxQueuedControl) {
    return;
  }
  StartRead();
}

void SubscribeStreamCall::OnReadDone(bool ok) {
  reading_ = false;
  if (ok && !done_ && !finishing_) {
    HandleRequest();
  } else {
    reads_done_ = true;  // half-closed by the client, broken, or ended
    if (!done_ && !finishing_) {
      spdlog::debug(
          "subscribe stream of {} half-closed: it ends with OK once its {} "
          "subscriptions end",
          EscapeForLog(peer_), entries_.size());
    }
  }
  Pump();
  Completed();
}

void SubscribeStreamCall::HandleRequest() {
  ++requests_read_;
  v1::SubscribeStreamRequest request;
  absl::Status parsed = ParseRawMessage(
      raw_request_, absl::StrCat("request ", requests_read_, " of the stream"),
      &request);
  raw_request_.Clear();
  if (parsed.ok() &&
      request.action_case() == v1::SubscribeStreamRequest::ACTION_NOT_SET) {
    parsed = absl::InvalidArgumentError(
        absl::StrCat("request ", requests_read_,
                     " of the stream has no action (add or cancel)"));
  }
  if (!parsed.ok()) {
    shared_->metrics->SubscribeRejected(parsed.code());
    shared_->refusals->Refused(RefusalLog::Level::kInfo, "subscribe stream",
                               peer_, parsed);
    error_ = parsed;
    reads_done_ = true;
    return;
  }
  if (request.has_add()) {
    Add(request.add());
  } else {
    Cancel(request.cancel());
  }
  MaybeRead();
}

void SubscribeStreamCall::Add(const v1::AddSubscription& add) {
  const uint64_t id = add.subscription_id();
  if (entries_.contains(id)) {
    const absl::Status duplicate = absl::InvalidArgumentError(absl::StrCat(
        "AddSubscription.subscription_id ", id,
        " is already open on this stream: cancel it or pick another id"));
    shared_->metrics->SubscribeRejected(duplicate.code());
    control_.push_back({.bytes = EndedResponse(id, duplicate)});
    return;
  }
  auto entry = std::make_unique<Entry>();
  entry->id = id;
  entry->generation = next_generation_++;
  absl::StatusOr<std::unique_ptr<Subscription>> subscription =
      [&]() -> absl::StatusOr<std::unique_ptr<Subscription>> {
    EVENTBUS_ASSIGN_OR_RETURN(entry->lease,
                              shared_->admission->AdmitSubscriber(context_));
    EVENTBUS_RETURN_IF_ERROR(
        shared_->admission->CheckFilter(add.request().filter()));
    EVENTBUS_ASSIGN_OR_RETURN(SubscribeOptions options,
                              SubscribeOptionsFromRequest(add.request()));
    options.peer = peer_;
    return shared_->bus->Subscribe(std::move(options));
  }();
  if (!subscription.ok()) {
    if (absl::IsResourceExhausted(subscription.status()) &&
        leaving_ != nullptr && !deferred_add_) {
      deferred_add_ = add;  // see OnWriteDone
      return;
    }
    shared_->metrics->SubscribeRejected(subscription.status().code());
    shared_->refusals->Refused(RefusalLog::Level::kInfo, "subscribe", peer_,
                               subscription.status());
    // Refused because the daemon drains: the stream ends once empty.
    if (absl::IsUnavailable(subscription.status())) drained_ = true;
    control_.push_back({.bytes = EndedResponse(id, subscription.status())});
    return;
  }
  entry->subscription = *std::move(subscription);
  entry->subscribed_at_nanos = absl::ToUnixNanos(absl::Now());
  entry->waker =
      std::make_shared<StreamWaker>(weak_from_this(), id, entry->generation);
  spdlog::debug(
      "subscriber '{}' ({}, stream subscription {}) starts at sequence {}, "
      "overflow {}",
      EscapeForLog(entry->subscription->name()), EscapeForLog(peer_), id,
      entry->subscription->cursor(),
      OverflowName(entry->subscription->overflow()));
  // Registered before SubscriptionStarted goes out: every event published
  // after the client sees it reaches the subscription.
  // Ready (to be read) once this is written.
  entry->ready = true;
  control_.push_back(
      {.bytes = StartedResponse(id, entry->subscription->cursor()),
       .starts = std::make_pair(id, entry->generation)});
  entries_.emplace(id, std::move(entry));
}

void SubscribeStreamCall::Cancel(uint64_t id) {
  if (!entries_.contains(id)) {
    control_.push_back({.bytes = EndedResponse(
                            id, absl::NotFoundError(absl::StrCat(
                                    "no subscription ", id,
                                    " is open on this stream (it ended, or was "
                                    "never added)")))});
    return;
  }
  End(id, absl::CancelledError("cancelled by the client"));
}

void SubscribeStreamCall::End(uint64_t id, const absl::Status& status) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  shared_->metrics->SubscriptionEnded(ToGrpcStatus(status).error_code());
  control_.push_back({.bytes = EndedResponse(id, status),
                      .leaving = std::move(it->second->subscription),
                      .lease = std::move(it->second->lease)});
  entries_.erase(it);
  // Its place in ready_, if any, is skipped when reached; drop such stale
  // places when they outnumber the open subscriptions, so that adding and
  // cancelling cannot grow the queue.
  if (ready_.size() > 2 * entries_.size() + 64) {
    std::erase_if(ready_, [&](const std::pair<uint64_t, uint64_t>& place) {
      auto open = entries_.find(place.first);
      return open == entries_.end() || open->second->generation != place.second;
    });
  }
}

void SubscribeStreamCall::OnWake(bool /*ok*/) {
  std::vector<std::pair<uint64_t, uint64_t>> woken;
  {
    MutexLock lock(&mu_);
    alarm_set_ = false;
    woken.swap(woken_);
  }
  for (const auto& [id, generation] : woken) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second->generation != generation ||
        it->second->ready) {
      continue;
    }
    it->second->ready = true;
    ready_.emplace_back(id, generation);
  }
  Pump();
  Completed();
}

void SubscribeStreamCall::OnWriteDone(bool ok) {
  writing_ = false;
  leaving_.reset();  // its SubscriptionEnded is out
  leaving_lease_ = PeerLimits::Lease();
  if (deferred_add_) {
    // Its slot is free now; a second refusal is final.
    const v1::AddSubscription add = *std::move(deferred_add_);
    deferred_add_.reset();
    if (ok && !done_ && !finishing_) Add(add);
    MaybeRead();
  }
  if (response_budgeted_) {
    response_budgeted_ = false;
    shared_->budget->WriteDone();
  }
  if (!ok) {
    reads_done_ = true;
    if (error_.ok()) error_ = absl::CancelledError("the stream broke");
  }
  Pump();  // finishes the call once it has ended (done_)
  Completed();
}

void SubscribeStreamCall::OnFinished(bool /*ok*/) {
  // Left only now: a drain counts these subscriptions until the status is
  // out.
  finished_.clear();
  finishing_leaving_.clear();
  leaving_.reset();
  leaving_lease_ = PeerLimits::Lease();
  Completed();
}

void SubscribeStreamCall::OnDone(bool /*ok*/) {
  done_ = true;
  // A write in flight fails now; finish once it has.
  if (!finishing_ && !writing_) {
    StartFinish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
  }
  Completed();
}

void SubscribeStreamCall::Pump() {
  if (writing_ || finishing_) return;
  if (done_) {
    StartFinish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
    return;
  }
  if (!error_.ok()) {
    StartFinish(ToGrpcStatus(error_));
    return;
  }
  if (!control_.empty() && (!last_was_control_ || ready_.empty())) {
    WriteControl();
    return;
  }
  if (FillFromReady()) {
    last_was_control_ = false;
    Write();
    return;
  }
  if (!control_.empty()) {
    WriteControl();  // none had events, or one ended: write that
    return;
  }
  if (entries_.empty()) {
    // Nothing left to send, and nothing will come.
    if (reads_done_) {
      StartFinish(grpc::Status::OK);
    } else if (drained_) {
      StartFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "the daemon is draining"));
    }
  }
}

bool SubscribeStreamCall::FillFromReady() {
  while (!ready_.empty()) {
    const auto [id, generation] = ready_.front();
    ready_.pop_front();
    auto it = entries_.find(id);
    // Ended meanwhile (and perhaps added again).
    if (it == entries_.end() || it->second->generation != generation) {
      continue;
    }
    Entry& entry = *it->second;
    entry.subscription->TryRead(
        {.max_events = SubscribeCall::kMaxResponseEvents,
         .max_bytes = shared_->budget->NextLimit()},
        &batch_);
    if (batch_.end_of_stream) {
      drained_ = true;
      batch_.Clear();
      End(id, absl::OkStatus());
      return false;  // control_ goes first
    }
    if (!batch_.ended.ok()) {
      spdlog::warn("subscriber '{}' ({}, stream subscription {}) ended: {}",
                   EscapeForLog(entry.subscription->name()),
                   EscapeForLog(peer_), id,
                   std::string(batch_.ended.message()));
      const absl::Status ended = batch_.ended;
      batch_.Clear();
      End(id, ended);
      return false;
    }
    if (!batch_.empty()) {
      if (batch_.lag) NoteLag(entry, *batch_.lag);
      if (!batch_.events.empty()) ObserveLatency(entry);
      const size_t inner = SubscribeResponseSize(batch_);
      const size_t size = 1 + CodedOutputStream::VarintSize64(id) + 1 +
                          CodedOutputStream::VarintSize64(inner) + inner;
      grpc::Slice slice(size);
      // A fresh slice is ours alone until it is handed to gRPC.
      uint8_t* out = const_cast<uint8_t*>(slice.begin());
      *out++ = kSubscriptionIdTag;
      out = CodedOutputStream::WriteVarint64ToArray(id, out);
      *out++ = kResponseTag;
      out = CodedOutputStream::WriteVarint64ToArray(inner, out);
      WriteSubscribeResponse(batch_, out);
      response_ = grpc::ByteBuffer(&slice, 1);
      batch_.Clear();  // the bytes are in the slice; release the events
      response_budgeted_ = true;
      ready_.emplace_back(id, generation);  // it may have more: next turn
      return true;
    }
    if (!entry.subscription->Arm(entry.waker)) {
      ready_.emplace_back(id, generation);  // something came meanwhile
      continue;
    }
    entry.ready = false;
  }
  return false;
}

void SubscribeStreamCall::WriteControl() {
  Control& control = control_.front();
  response_ = std::move(control.bytes);
  leaving_ = std::move(control.leaving);
  leaving_lease_ = std::move(control.lease);
  if (control.starts) {
    // On the wire after its SubscriptionStarted: it may read from now on.
    ready_.push_back(*control.starts);
  }
  control_.pop_front();
  last_was_control_ = true;
  Write();
  MaybeRead();
}

void SubscribeStreamCall::Write() {
  writing_ = true;
  if (response_budgeted_) shared_->budget->WriteStarted();
  Started();
  stream_.Write(response_, &write_tag_);
}

void SubscribeStreamCall::ObserveLatency(const Entry& entry) {
  const int64_t now = absl::ToUnixNanos(absl::Now());
  Histogram::Tally latency(&shared_->metrics->delivery_latency());
  for (const auto& event : batch_.events) {
    // A replay (from_sequence, from_earliest, the log) is not latency.
    if (event->publish_nanos() < entry.subscribed_at_nanos) continue;
    latency.ObserveNanos(now - event->publish_nanos());
  }
}

void SubscribeStreamCall::NoteLag(const Entry& entry, const Lag& lag) {
  missed_since_warning_ += lag.missed();
  const absl::Time now = absl::Now();
  if (now - last_lag_warning_ < SubscribeCall::kLagWarningInterval) return;
  spdlog::warn(
      "subscriber '{}' ({}, stream subscription {}) is lagging: its stream "
      "lost {} events since the last warning (latest range {}..{})",
      EscapeForLog(entry.subscription->name()), EscapeForLog(peer_), entry.id,
      missed_since_warning_, lag.first_sequence, lag.last_sequence);
  missed_since_warning_ = 0;
  last_lag_warning_ = now;
}

void SubscribeStreamCall::StartFinish(const grpc::Status& status) {
  finishing_ = true;
  for (size_t i = 0; i < entries_.size(); ++i) {
    shared_->metrics->SubscriptionEnded(status.error_code());
  }
  finished_ = std::move(entries_);
  entries_.clear();
  ready_.clear();
  // Their subscriptions and slots too stay until the status is out.
  for (Control& control : control_) {
    if (control.leaving != nullptr)
      finishing_leaving_.push_back(std::move(control));
  }
  control_.clear();
  {
    MutexLock lock(&mu_);
    closing_ = true;
    if (alarm_set_) alarm_.Cancel();  // its completion still comes
  }
  Started();
  stream_.Finish(status, &finish_tag_);
}

void SubscribeStreamCall::Started() {
  MutexLock lock(&mu_);
  ++pending_;
}

void SubscribeStreamCall::Completed() {
  std::shared_ptr<SubscribeStreamCall> last;
  {
    MutexLock lock(&mu_);
    if (--pending_ == 0) last = std::move(self_);
  }
  // `last` may be the final reference: this is destroyed on return.
}

}  // namespace eventbus

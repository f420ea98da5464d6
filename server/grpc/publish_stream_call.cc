#include "server/grpc/publish_stream_call.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/metadata.h"
#include "base/status_macros.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/raw_message.h"
#include "server/security/peer_limits.h"

namespace eventbus {

void PublishStreamCall::Await(const Shared* shared, int queue) {
  auto call = std::make_shared<PublishStreamCall>(shared, queue);
  call->self_ = call;
  // Delivered once the call ends, if it arrives at all.
  call->context_.AsyncNotifyWhenDone(&call->done_tag_);
  call->Started();
  shared->request(&call->context_, &call->stream_, call->queue_,
                  &call->accepted_tag_);
}

PublishStreamCall::PublishStreamCall(const Shared* shared, int queue)
    : token_(shared->io),
      shared_(shared),
      queue_(shared->io->queue(queue)),
      queue_index_(queue) {}

void PublishStreamCall::OnMayPublish() {
  MutexLock lock(&mu_);
  if (closing_ || wake_set_) return;
  wake_set_ = true;
  ++pending_ops_;
  // Due at once (see SubscribeCall::OnReadable).
  wake_alarm_.Set(queue_, gpr_inf_past(GPR_CLOCK_MONOTONIC), &wake_tag_);
}

void PublishStreamCall::OnAccepted(bool ok) {
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

void PublishStreamCall::Begin() {
  peer_ = context_.peer();
  limited_peer_ = PeerLimits::PeerOf(peer_);
  context_.AddInitialMetadata(kInstanceMetadataKey, shared_->instance_id);
  // The right first: a peer without it learns nothing about its requests.
  if (absl::Status admitted = shared_->admission->AuthorizePublisher(context_);
      !admitted.ok()) {
    Refuse(admitted);
    return;
  }
  writing_ = true;
  Started();
  stream_.SendInitialMetadata(&write_tag_);
  StartRead();
}

void PublishStreamCall::StartRead() {
  reading_ = true;
  Started();
  stream_.Read(&raw_request_, &read_tag_);
}

void PublishStreamCall::OnReadDone(bool ok) {
  reading_ = false;
  // Not once the stream broke or ended: no acknowledgement could reach the
  // client, which would send the events again.
  if (ok && !done_ && !reads_done_) {
    HandleRequest();
  } else {
    reads_done_ = true;  // half-closed by the client, broken, or ended
    Advance();
  }
  Completed();
}

void PublishStreamCall::HandleRequest() {
  // The request's events in order: `event`, or each of `events`.
  ++requests_read_;
  request_.Clear();
  absl::Status parsed = ParseRawMessage(
      raw_request_, absl::StrCat("request ", requests_read_, " of the stream"),
      &request_);
  raw_request_.Clear();
  if (parsed.ok() && request_.has_event() == (request_.events_size() > 0)) {
    parsed = absl::InvalidArgumentError(
        request_.has_event()
            ? "PublishStreamRequest carries both event and events"
            : "PublishStreamRequest.event or .events is required");
  }
  if (!parsed.ok()) {
    Refuse(parsed);
    return;
  }
  next_event_ = 0;
  PublishEvents();
}

void PublishStreamCall::PublishEvents() {
  const int count = request_.has_event() ? 1 : request_.events_size();
  while (next_event_ < count) {
    if (!prepared_) {
      const v1::Event& event = request_.has_event()
                                   ? request_.event()
                                   : request_.events(next_event_);
      absl::StatusOr<PreparedEvent> prepared =
          [&]() -> absl::StatusOr<PreparedEvent> {
        EVENTBUS_RETURN_IF_ERROR(
            shared_->admission->AdmitEvent(limited_peer_, event));
        return shared_->bus->Prepare(event);
      }();
      if (!prepared.ok()) {
        Refuse(prepared.status());
        return;
      }
      prepared_ = *std::move(prepared);
    }
    absl::StatusOr<PublishAttempt> attempt =
        shared_->bus->TryPublish(&*prepared_, weak_from_this());
    if (!attempt.ok()) {
      prepared_.reset();
      Refuse(attempt.status());
      return;
    }
    if (!attempt->published) {
      // Read nothing more until it is published: the client's window fills.
      held_until_ = attempt->retry_by;
      ArmRetry();
      Advance();  // the acknowledgements before it go out meanwhile
      return;
    }
    PublishResult& result = *attempt->published;
    v1::PublishResponse* ack = pending_.add_acks();
    ack->set_sequence(result.sequence);
    ack->set_id(std::move(result.id));
    ack->set_subscribers(static_cast<uint32_t>(result.subscribers));
    prepared_.reset();
    ++next_event_;
  }
  read_paused_ = pending_.acks_size() >= kMaxPendingAcks;
  if (!read_paused_ && !reads_done_) StartRead();
  Advance();
}

void PublishStreamCall::ArmRetry() {
  if (retry_set_) {
    // Fires too late: cancel it, and OnRetryTimer sets it again.
    if (retry_due_ > held_until_) retry_alarm_.Cancel();
    return;
  }
  retry_set_ = true;
  retry_due_ = held_until_;
  Started();
  // Never before now: gRPC reads a time before 1970 as the infinite future.
  retry_alarm_.Set(queue_,
                   absl::ToChronoTime(std::max(held_until_, absl::Now())),
                   &retry_tag_);
}

void PublishStreamCall::OnWake(bool ok) {
  {
    MutexLock lock(&mu_);
    wake_set_ = false;
  }
  awaiting_stored_ = 0;
  if (ok && held() && !done_) {
    PublishEvents();
  } else if (ok && !done_) {
    Advance();  // acknowledgements stored since
  }
  Completed();
}

void PublishStreamCall::OnRetryTimer(bool ok) {
  retry_set_ = false;
  if (held() && !done_) {
    if (ok) {
      PublishEvents();  // the bus ends the holder in the way, or says when
    } else {
      ArmRetry();  // cancelled for an earlier time
    }
  }
  Completed();
}

void PublishStreamCall::Refuse(const absl::Status& status) {
  shared_->metrics->PublishRejected(status.code());
  shared_->refusals->Refused(RefusalLog::Level::kDebug, "stream publish", peer_,
                             status);
  error_ = status;
  reads_done_ = true;
  Advance();
}

void PublishStreamCall::Abandon(const char* why) {
  reads_done_ = true;
  pending_.clear_acks();
  if (error_.ok()) error_ = absl::CancelledError(why);
  prepared_.reset();                      // a held event is never published
  if (retry_set_) retry_alarm_.Cancel();  // its completion still comes
}

void PublishStreamCall::OnWriteDone(bool ok) {
  writing_ = false;
  if (!ok) Abandon("the stream broke");
  Advance();
  Completed();
}

void PublishStreamCall::OnFinished(bool /*ok*/) { Completed(); }

void PublishStreamCall::OnDone(bool /*ok*/) {
  done_ = true;
  if (!finishing_) {
    Abandon("the stream was cancelled");
    Advance();
  }
  Completed();
}

int PublishStreamCall::StoredAcks() {
  const uint64_t end = shared_->bus->stored_end();
  int ready = 0;
  while (ready < pending_.acks_size() &&
         pending_.acks(ready).sequence() < end) {
    ++ready;
  }
  if (ready == pending_.acks_size()) return ready;
  const uint64_t next = pending_.acks(ready).sequence();
  if (awaiting_stored_ == next) return ready;  // armed already
  absl::StatusOr<bool> stored =
      shared_->bus->AwaitStored(next, weak_from_this());
  if (stored.ok() && *stored) return StoredAcks();  // stored meanwhile
  if (stored.ok()) {
    awaiting_stored_ = next;
    return ready;
  }
  // Never acknowledged: the client sends them again.
  for (int i = ready; i < pending_.acks_size(); ++i) {
    shared_->metrics->PublishRejected(stored.status().code());
  }
  pending_.mutable_acks()->DeleteSubrange(ready, pending_.acks_size() - ready);
  shared_->refusals->Refused(RefusalLog::Level::kDebug, "stream publish", peer_,
                             stored.status());
  if (error_.ok()) error_ = stored.status();
  reads_done_ = true;
  prepared_.reset();
  return ready;
}

void PublishStreamCall::Advance() {
  if (writing_ || finishing_) return;
  if (pending_.acks_size() > 0) {
    const int ready = StoredAcks();
    if (ready > 0) {
      if (ready == pending_.acks_size()) {
        response_ = SerializeRawMessage(pending_);
        pending_.clear_acks();
      } else {
        v1::PublishStreamResponse stored;
        for (int i = 0; i < ready; ++i) {
          stored.add_acks()->Swap(pending_.mutable_acks(i));
        }
        pending_.mutable_acks()->DeleteSubrange(0, ready);
        response_ = SerializeRawMessage(stored);
      }
      writing_ = true;
      Started();
      stream_.Write(response_, &write_tag_);
      if (read_paused_ && !reads_done_ && !held()) {
        read_paused_ = false;
        StartRead();
      }
      return;
    }
    if (pending_.acks_size() > 0) return;  // waiting for the disk
  }
  // A pending read completes (failing, once the call has ended) first.
  if (!reads_done_ || held() || reading_) return;
  finishing_ = true;
  {
    MutexLock lock(&mu_);
    closing_ = true;
    if (wake_set_) wake_alarm_.Cancel();  // its completion still comes
  }
  if (retry_set_) retry_alarm_.Cancel();
  Started();
  stream_.Finish(ToGrpcStatus(error_), &finish_tag_);
}

void PublishStreamCall::Started() {
  MutexLock lock(&mu_);
  ++pending_ops_;
}

void PublishStreamCall::Completed() {
  std::shared_ptr<PublishStreamCall> last;
  {
    MutexLock lock(&mu_);
    if (--pending_ops_ == 0) last = std::move(self_);
  }
  // `last` may be the final reference: this is destroyed on return.
}

}  // namespace eventbus

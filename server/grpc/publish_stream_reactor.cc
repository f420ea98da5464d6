#include "server/grpc/publish_stream_reactor.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/held_publish_reactor.h"
#include "server/grpc/raw_message.h"

namespace eventbus {

PublishStreamReactor* PublishStreamReactor::Start(
    grpc::CallbackServerContext* context, Bus bus, Admission admission,
    RefusalLog* refusals, DeliveryQueue* delivery) {
  auto reactor = std::make_shared<PublishStreamReactor>(
      context, std::move(bus), std::move(admission), refusals, delivery);
  {
    MutexLock lock(&reactor->mu_);
    reactor->self_ = reactor;
  }
  reactor->StartSendInitialMetadata();
  reactor->StartRead(&reactor->raw_request_);
  return reactor.get();
}

PublishStreamReactor::PublishStreamReactor(grpc::CallbackServerContext* context,
                                           Bus bus, Admission admission,
                                           RefusalLog* refusals,
                                           DeliveryQueue* delivery)
    : bus_(std::move(bus)),
      admission_(std::move(admission)),
      refusals_(refusals),
      delivery_(delivery),
      peer_(context->peer()),
      limited_peer_(PeerLimits::PeerOf(peer_)) {}

void PublishStreamReactor::OnReadDone(bool ok) {
  if (!ok) {
    {
      MutexLock lock(&mu_);
      reads_done_ = true;  // half-closed by the client, or broken
    }
    Advance();
    return;
  }
  // The request's events in order: `event`, or each of `events`.
  ++requests_read_;
  request_.Clear();
  request_error_ = ParseRawMessage(
      raw_request_, absl::StrCat("request ", requests_read_, " of the stream"),
      &request_);
  if (request_error_.ok() &&
      request_.has_event() == (request_.events_size() > 0)) {
    request_error_ = absl::InvalidArgumentError(
        request_.has_event()
            ? "PublishStreamRequest carries both event and events"
            : "PublishStreamRequest.event or .events is required");
  }
  next_event_ = 0;
  PublishEvents();
}

void PublishStreamReactor::PublishEvents() {
  absl::Status refused = request_error_;
  const int count = request_.has_event() ? 1 : request_.events_size();
  // Published outside the lock; their acknowledgements are queued under it,
  // in the same critical section that hands the publishing over (held_), so
  // that Run's acknowledgements cannot overtake them.
  std::vector<PublishResult> published;
  while (true) {
    bool held = false;
    while (refused.ok() && next_event_ < count) {
      if (!prepared_) {
        const v1::Event& event = request_.has_event()
                                     ? request_.event()
                                     : request_.events(next_event_);
        absl::StatusOr<PreparedEvent> prepared =
            [&]() -> absl::StatusOr<PreparedEvent> {
          EVENTBUS_RETURN_IF_ERROR(admission_.AdmitEvent(limited_peer_, event));
          return bus_.Prepare(event);
        }();
        if (!prepared.ok()) {
          refused = prepared.status();
          break;
        }
        prepared_ = *std::move(prepared);
      }
      {
        MutexLock lock(&mu_);
        woken_ = false;
      }
      absl::StatusOr<PublishAttempt> attempt =
          bus_.TryPublish(&*prepared_, weak_from_this());
      if (!attempt.ok()) {
        refused = attempt.status();
        break;
      }
      if (!attempt->published) {
        held = true;
        held_until_ = attempt->retry_by;
        break;
      }
      published.push_back(*std::move(attempt->published));
      prepared_.reset();
      ++next_event_;
    }
    if (!refused.ok()) {
      prepared_.reset();
      refusals_->Refused(RefusalLog::Level::kDebug, "stream publish", peer_,
                         refused);
    }
    bool read_next = false;
    bool retry = false;
    {
      MutexLock lock(&mu_);
      for (PublishResult& result : published) {
        v1::PublishResponse* ack = pending_.add_acks();
        ack->set_sequence(result.sequence);
        ack->set_id(std::move(result.id));
        ack->set_subscribers(static_cast<uint32_t>(result.subscribers));
      }
      published.clear();
      if (!refused.ok()) {
        error_ = refused;
        reads_done_ = true;
      } else if (held && cancelled_) {
        prepared_.reset();  // the client is gone: never published
        reads_done_ = true;
      } else if (held && woken_) {
        retry = true;  // room was made since the attempt: try again now
      } else if (held) {
        // From here on Run owns the publishing. The alarm is set anew each
        // time: an earlier one may have fired already.
        held_ = true;
        PostAt(held_until_, weak_from_this(), &alarm_);
      } else {
        read_paused_ = pending_.acks_size() >= kMaxPendingAcks;
        read_next = !read_paused_ && !reads_done_;
      }
    }
    if (retry) continue;
    if (read_next) StartRead(&raw_request_);
    Advance();
    return;
  }
}

void PublishStreamReactor::Run() {
  {
    MutexLock lock(&mu_);
    if (!held_) {
      woken_ = true;
      return;
    }
    held_ = false;
    if (cancelled_) {
      prepared_.reset();
      return;
    }
  }
  PublishEvents();
}

void PublishStreamReactor::OnWriteDone(bool ok) {
  {
    MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      // The client is gone; nothing more can be acknowledged.
      reads_done_ = true;
      pending_.clear_acks();
      if (error_.ok()) error_ = absl::CancelledError("the stream broke");
    }
  }
  Advance();
}

void PublishStreamReactor::OnCancel() {
  {
    MutexLock lock(&mu_);
    cancelled_ = true;
    if (error_.ok()) error_ = absl::CancelledError("the stream was cancelled");
    // A held event is dropped, unpublished: Run sees cancelled_. A pending
    // read fails and ends the reads; a held stream has none, so end them.
    if (!held_) return;
    held_ = false;
    reads_done_ = true;
    alarm_.reset();
  }
  Advance();
}

void PublishStreamReactor::OnDone() {
  std::shared_ptr<PublishStreamReactor> self;
  {
    MutexLock lock(&mu_);
    alarm_.reset();
    self = std::move(self_);
  }
  // `self` may be the last reference: this is destroyed on return.
}

void PublishStreamReactor::Advance() {
  enum class Next { kNothing, kWrite, kWriteAndResumeRead, kFinish };
  Next next = Next::kNothing;
  grpc::Status status;
  {
    MutexLock lock(&mu_);
    if (writing_ || finished_) return;
    if (pending_.acks_size() > 0) {
      response_ = SerializeRawMessage(pending_);
      pending_.clear_acks();
      writing_ = true;
      next = Next::kWrite;
      if (read_paused_ && !reads_done_ && !held_) {
        read_paused_ = false;
        next = Next::kWriteAndResumeRead;
      }
    } else if (reads_done_ && !held_) {
      finished_ = true;
      status = ToGrpcStatus(error_);
      next = Next::kFinish;
    }
  }
  switch (next) {
    case Next::kNothing:
      break;
    case Next::kWrite:
      StartWrite(&response_);
      break;
    case Next::kWriteAndResumeRead:
      StartWrite(&response_);
      StartRead(&raw_request_);
      break;
    case Next::kFinish:
      Finish(status);
      break;
  }
}

}  // namespace eventbus

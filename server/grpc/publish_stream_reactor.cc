#include "server/grpc/publish_stream_reactor.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/raw_message.h"

namespace eventbus {

PublishStreamReactor::PublishStreamReactor(grpc::CallbackServerContext* context,
                                           Bus bus, Admission admission,
                                           RefusalLog* refusals)
    : bus_(std::move(bus)),
      admission_(std::move(admission)),
      refusals_(refusals),
      peer_(context->peer()),
      limited_peer_(PeerLimits::PeerOf(peer_)) {
  StartSendInitialMetadata();
  StartRead(&request_);
}

void PublishStreamReactor::OnReadDone(bool ok) {
  bool read_next = false;
  if (!ok) {
    MutexLock lock(&mu_);
    reads_done_ = true;  // half-closed by the client, or broken
  } else {
    // The request's events in order: `event`, or each of `events`.
    ++requests_read_;
    v1::PublishStreamRequest request;
    absl::Status refused = ParseRawMessage(
        request_, absl::StrCat("request ", requests_read_, " of the stream"),
        &request);
    if (refused.ok() && request.has_event() == (request.events_size() > 0)) {
      refused = absl::InvalidArgumentError(
          request.has_event()
              ? "PublishStreamRequest carries both event and events"
              : "PublishStreamRequest.event or .events is required");
    }
    const int count = request.has_event() ? 1 : request.events_size();
    // Published outside the lock; their acknowledgements are queued under it.
    std::vector<PublishResult> published;
    published.reserve(count);
    for (int i = 0; refused.ok() && i < count; ++i) {
      const v1::Event& event =
          request.has_event() ? request.event() : request.events(i);
      absl::StatusOr<PublishResult> result =
          [&]() -> absl::StatusOr<PublishResult> {
        EVENTBUS_RETURN_IF_ERROR(admission_.AdmitEvent(limited_peer_, event));
        return bus_.Publish(event);
      }();
      if (!result.ok()) {
        refused = result.status();
        break;
      }
      published.push_back(*std::move(result));
    }
    if (!refused.ok()) {
      refusals_->Refused(RefusalLog::Level::kDebug, "stream publish", peer_,
                         refused);
    }
    MutexLock lock(&mu_);
    for (PublishResult& result : published) {
      v1::PublishResponse* ack = pending_.add_acks();
      ack->set_sequence(result.sequence);
      ack->set_id(std::move(result.id));
      ack->set_subscribers(static_cast<uint32_t>(result.subscribers));
    }
    if (!refused.ok()) {
      error_ = refused;
      reads_done_ = true;
    } else {
      read_paused_ = pending_.acks_size() >= kMaxPendingAcks;
      read_next = !read_paused_;
    }
  }
  if (read_next) StartRead(&request_);
  Advance();
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
      if (read_paused_ && !reads_done_) {
        read_paused_ = false;
        next = Next::kWriteAndResumeRead;
      }
    } else if (reads_done_) {
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
      StartRead(&request_);
      break;
    case Next::kFinish:
      Finish(status);
      break;
  }
}

}  // namespace eventbus

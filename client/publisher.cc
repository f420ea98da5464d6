#include "client/publisher.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/text.h"
#include "client/status.h"

namespace eventbus::client {
namespace {

// Largest batch of events in one PublishStreamRequest (a single larger event
// goes alone): well within the daemon's receive limit, at least 4 MiB.
constexpr size_t kMaxRequestBytes = 1 << 20;

// InvalidArgument naming the first string field of `message` (at `path`)
// that is not UTF-8, which protobuf encodes but the daemon cannot parse.
absl::Status CheckUtf8(const google::protobuf::Message& message,
                       const std::string& path) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    const std::string name = absl::StrCat(path, ".", field->name());
    const int count =
        field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        const std::string value =
            field->is_repeated()
                ? reflection->GetRepeatedString(message, field, i)
                : reflection->GetString(message, field);
        if (!IsValidUtf8(value)) {
          return absl::InvalidArgumentError(
              absl::StrCat(name, " is not valid UTF-8"));
        }
      } else if (field->cpp_type() ==
                 google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        EVENTBUS_RETURN_IF_ERROR(
            CheckUtf8(field->is_repeated()
                          ? reflection->GetRepeatedMessage(message, field, i)
                          : reflection->GetMessage(message, field),
                      name));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

// The PublishStream call behind PublishAsync. Forwards every callback to its
// Publisher, which keeps all the state. Holds itself open (a hold) until the
// publisher's thread releases it; deletes itself in OnDone.
class Publisher::Stream final
    : public grpc::ClientBidiReactor<v1::PublishStreamRequest,
                                     v1::PublishStreamResponse> {
 public:
  Stream(Publisher* publisher, v1::EventBusService::Stub* stub)
      : publisher_(publisher) {
    stub->async()->PublishStream(&context_, this);
    AddHold();
    StartRead(&response_);
    StartCall();
  }

  grpc::ClientContext& context() { return context_; }
  // Owned by the one write in flight.
  v1::PublishStreamRequest& request() { return request_; }

  void OnReadInitialMetadataDone(bool ok) override {
    publisher_->OnHeaders(ok);
  }
  void OnWriteDone(bool ok) override { publisher_->OnWritten(ok); }
  void OnReadDone(bool ok) override {
    if (!ok) return publisher_->OnReadsDone();
    publisher_->OnAcks(response_);
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    // Deleted before the publisher hears of it: the ClientContext holds a
    // reference to the channel, and the publisher (and with it the channel)
    // may be destroyed as soon as it has heard. gRPC 1.51 must not release
    // a channel's last reference on this callback thread: the channel then
    // shuts down the callback completion queue that runs this very thread
    // (grpc_cq_internal_unref "prior > 0" abort; grpc/grpc#32584).
    Publisher* const publisher = publisher_;
    const grpc::Status final_status = status;
    delete this;
    publisher->OnStreamDone(final_status);
  }

 private:
  Publisher* const publisher_;
  grpc::ClientContext context_;
  v1::PublishStreamRequest request_;
  v1::PublishStreamResponse response_;
};

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Create(
    std::shared_ptr<grpc::Channel> channel, PublisherOptions options) {
  if (channel == nullptr) return absl::InvalidArgumentError("no channel");
  if (options.queue_capacity == 0) {
    return absl::InvalidArgumentError("queue_capacity must be at least 1");
  }
  if (options.window == 0) {
    return absl::InvalidArgumentError("window must be at least 1");
  }
  return std::unique_ptr<Publisher>(new Publisher(std::move(channel), options));
}

Publisher::Publisher(std::shared_ptr<grpc::Channel> channel,
                     PublisherOptions options)
    : options_(options),
      stub_(v1::EventBusService::NewStub(std::move(channel))),
      thread_([this] { Run(); }) {}

Publisher::~Publisher() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  thread_.join();
}

absl::StatusOr<PublishReceipt> Publisher::Publish(const v1::Event& event) {
  v1::PublishRequest request;
  *request.mutable_event() = event;
  v1::PublishResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  grpc::Status status = stub_->Publish(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return PublishReceipt{response.sequence(), response.id(),
                        response.subscribers()};
}

absl::Status Publisher::PublishAsync(v1::Event event, Callback done) {
  // The daemon refuses a whole request that does not parse, and several
  // queued events share a request: an event it could not parse would fail
  // the events batched with it. Such an event fails here, alone.
  EVENTBUS_RETURN_IF_ERROR(CheckUtf8(event, "event"));
  {
    MutexLock lock(&mu_);
    if (stopping_) {
      return absl::FailedPreconditionError("the publisher is shutting down");
    }
    if (queue_.size() >= options_.queue_capacity) {
      return absl::ResourceExhaustedError(
          "the publish queue is full (queue_capacity events waiting)");
    }
    queue_.push_back({std::move(event), std::move(done)});
    // Without a stream, the publisher's thread opens one.
    if (stream_ == nullptr) changed_.SignalAll();
  }
  SendMore();
  return absl::OkStatus();
}

bool Publisher::Idle() const {
  return queue_.empty() && sent_.empty() && outcomes_.empty() && running_ == 0;
}

bool Publisher::Flush(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (!Idle()) {
    if (!changed_.WaitUntil(deadline)) break;
  }
  return Idle();
}

void Publisher::Report(Callback done, absl::StatusOr<PublishReceipt> result) {
  outcomes_.push_back({std::move(done), std::move(result)});
  changed_.SignalAll();
}

void Publisher::SendMore() {
  Stream* stream;
  {
    MutexLock lock(&mu_);
    const size_t window = headers_ ? options_.window : 1;
    if (stream_ == nullptr || stopping_ || writing_ || broken_ || released_ ||
        queue_.empty() || sent_.size() >= window) {
      return;
    }
    stream = stream_;
    // Everything queued meanwhile goes in one request (one write, one
    // message for the daemon to read), within the window and the budget.
    v1::PublishStreamRequest& request = stream->request();
    request.Clear();
    const size_t count = std::min(queue_.size(), window - sent_.size());
    const absl::Time deadline = absl::Now() + options_.timeout;
    size_t bytes = 0;
    for (size_t i = 0; i < count; ++i) {
      Queued& next = queue_.front();
      const size_t size = next.event.ByteSizeLong();
      if (i > 0 && bytes + size > kMaxRequestBytes) break;
      bytes += size;
      *(count == 1 ? request.mutable_event() : request.add_events()) =
          next.event;
      // Kept until acknowledged, to be sent again should the daemon reject
      // an event before it.
      sent_.push_back({std::move(next.event), std::move(next.done), deadline});
      queue_.pop_front();
    }
    writing_ = true;
    changed_.SignalAll();  // a new deadline for the publisher's thread
  }
  stream->StartWrite(&stream->request());
}

void Publisher::OnHeaders(bool ok) {
  {
    MutexLock lock(&mu_);
    headers_ = ok;
  }
  SendMore();  // the window opens
}

void Publisher::OnWritten(bool ok) {
  {
    MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) broken_ = true;
    changed_.SignalAll();
  }
  SendMore();
}

void Publisher::OnAcks(const v1::PublishStreamResponse& response) {
  {
    MutexLock lock(&mu_);
    for (const v1::PublishResponse& ack : response.acks()) {
      if (sent_.empty()) break;  // more acks than events: ignore
      Report(std::move(sent_.front().done),
             PublishReceipt{ack.sequence(), ack.id(), ack.subscribers()});
      sent_.pop_front();
    }
  }
  SendMore();
}

void Publisher::OnReadsDone() {
  MutexLock lock(&mu_);
  broken_ = true;
  changed_.SignalAll();
}

void Publisher::OnStreamDone(const grpc::Status& grpc_status) {
  MutexLock lock(&mu_);
  absl::Status status = FromGrpc(grpc_status);
  const bool rejected =
      !cancelled_ && (status.code() == absl::StatusCode::kInvalidArgument ||
                      status.code() == absl::StatusCode::kResourceExhausted);
  if (cancelled_) {
    status = absl::DeadlineExceededError(
        "no acknowledgement from the daemon within the publish timeout");
  } else if (status.ok()) {
    status = absl::UnavailableError(
        "the publish stream ended before the event was acknowledged");
  }
  if (rejected && !sent_.empty()) {
    // The daemon published nothing after the rejected event: send the rest
    // again, ahead of what is queued, on the next stream.
    Report(std::move(sent_.front().done), status);
    sent_.pop_front();
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      queue_.push_front({std::move(it->event), std::move(it->done)});
    }
    sent_.clear();
  }
  for (Sent& sent : sent_) Report(std::move(sent.done), status);
  sent_.clear();
  stream_ = nullptr;
  headers_ = writing_ = broken_ = cancelled_ = released_ = false;
  changed_.SignalAll();
}

void Publisher::Run() {
  MutexLock lock(&mu_);
  while (true) {
    if (!outcomes_.empty()) {
      std::deque<Outcome> outcomes;
      outcomes.swap(outcomes_);
      running_ += outcomes.size();
      mu_.Unlock();
      for (Outcome& outcome : outcomes) {
        if (outcome.done) outcome.done(std::move(outcome.result));
      }
      mu_.Lock();
      running_ -= outcomes.size();
      changed_.SignalAll();
      continue;
    }
    if (stream_ != nullptr && !released_) {
      Stream* stream = stream_;
      const bool expired =
          !sent_.empty() && absl::Now() >= sent_.front().deadline;
      if (expired && !cancelled_) {
        cancelled_ = true;
        mu_.Unlock();
        stream->context().TryCancel();
        mu_.Lock();
        continue;
      }
      const bool closing = stopping_ && sent_.empty();
      if ((broken_ || closing) && !writing_) {
        released_ = true;
        const bool writes_done = closing && !broken_;
        mu_.Unlock();
        if (writes_done) stream->StartWritesDone();
        stream->RemoveHold();  // OnStreamDone clears stream_
        mu_.Lock();
        continue;
      }
    }
    if (stream_ == nullptr) {
      if (stopping_) break;
      if (!queue_.empty()) {
        mu_.Unlock();
        Stream* stream = new Stream(this, stub_.get());
        mu_.Lock();
        stream_ = stream;
        mu_.Unlock();
        SendMore();
        mu_.Lock();
        continue;
      }
    }
    const absl::Time deadline = !sent_.empty() && !cancelled_
                                    ? sent_.front().deadline
                                    : absl::InfiniteFuture();
    changed_.WaitUntil(deadline);
  }
  // Shutting down, the stream closed: report what was never sent.
  std::deque<Queued> abandoned;
  abandoned.swap(queue_);
  std::deque<Outcome> outcomes;
  outcomes.swap(outcomes_);
  mu_.Unlock();
  for (Outcome& outcome : outcomes) {
    if (outcome.done) outcome.done(std::move(outcome.result));
  }
  for (Queued& queued : abandoned) {
    if (queued.done) {
      queued.done(absl::CancelledError(
          "the publisher was destroyed before this event was sent"));
    }
  }
  mu_.Lock();
  changed_.SignalAll();
}

}  // namespace eventbus::client

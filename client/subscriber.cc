#include "client/subscriber.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "base/metadata.h"
#include "client/status.h"

namespace eventbus::client {
namespace {

std::string Header(const grpc::ClientContext& context, const char* key) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find(key);
  return it == metadata.end()
             ? std::string()
             : std::string(it->second.data(), it->second.size());
}

// Errors a retry cannot fix: the request itself is wrong.
bool IsPermanent(grpc::StatusCode code) {
  return code == grpc::StatusCode::INVALID_ARGUMENT ||
         code == grpc::StatusCode::UNIMPLEMENTED ||
         code == grpc::StatusCode::UNAUTHENTICATED ||
         code == grpc::StatusCode::PERMISSION_DENIED;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subscriber>> Subscriber::Start(
    std::shared_ptr<grpc::Channel> channel, SubscriberOptions options,
    Handler handler) {
  if (options.shared_stream != nullptr) {
    if (channel != nullptr && channel != options.shared_stream->channel()) {
      return absl::InvalidArgumentError(
          "SubscriberOptions.shared_stream is on another channel");
    }
    channel = options.shared_stream->channel();
  }
  if (channel == nullptr) return absl::InvalidArgumentError("no channel");
  if (options.queue_capacity == 0) {
    return absl::InvalidArgumentError("queue_capacity must be at least 1");
  }
  return std::unique_ptr<Subscriber>(new Subscriber(
      std::move(channel), std::move(options), std::move(handler)));
}

absl::StatusOr<std::unique_ptr<Subscriber>> Subscriber::Start(
    std::shared_ptr<grpc::Channel> channel, SubscriberOptions options) {
  return Start(std::move(channel), std::move(options), nullptr);
}

Subscriber::Subscriber(std::shared_ptr<grpc::Channel> channel,
                       SubscriberOptions options, Handler handler)
    : options_(std::move(options)),
      stub_(v1::EventBusService::NewStub(std::move(channel))),
      handler_(std::move(handler)),
      backoff_(options_.backoff),
      thread_([this] { Run(); }) {}

Subscriber::~Subscriber() {
  Stop();
  thread_.join();
}

void Subscriber::Stop() {
  std::shared_ptr<SharedStream::Inbox> inbox;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
    inbox = inbox_;
    changed_.SignalAll();
  }
  // Outside mu_: the cancel is a write, which may wait for the daemon.
  if (inbox != nullptr) options_.shared_stream->Cancel(inbox);
}

std::optional<SubscriberNotice> Subscriber::Next(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (queue_.empty() && !finished_) {
    if (!changed_.WaitUntil(deadline)) break;
  }
  if (queue_.empty()) return std::nullopt;
  SubscriberNotice notice = std::move(queue_.front());
  queue_.pop_front();
  changed_.SignalAll();  // room for the subscriber's thread
  return notice;
}

bool Subscriber::stopping() {
  MutexLock lock(&mu_);
  return stopping_;
}

void Subscriber::Run() {
  v1::SubscribeRequest request = options_.request;
  while (!stopping()) {
    if (next_sequence_) request.set_from_sequence(*next_sequence_);
    const StreamEnd end = options_.shared_stream != nullptr
                              ? SharedSubscription(request)
                              : Stream(request);
    if (stopping()) break;
    if (end.restarted) {
      request.set_from_earliest(true);  // the old numbering means nothing now
      continue;
    }
    SubscriberNotice notice;
    notice.kind = SubscriberNotice::Kind::kDisconnected;
    notice.status = FromGrpc(end.status);
    if (IsPermanent(end.status.error_code())) {
      notice.final = true;
      Deliver(std::move(notice));
      break;
    }
    notice.retry_in = backoff_.Next();
    const absl::Time retry_at = absl::Now() + notice.retry_in;
    Deliver(std::move(notice));
    MutexLock lock(&mu_);
    while (!stopping_ && changed_.WaitUntil(retry_at)) {
    }
  }
  MutexLock lock(&mu_);
  finished_ = true;
  changed_.SignalAll();
}

Subscriber::StreamEnd Subscriber::Stream(const v1::SubscribeRequest& request) {
  grpc::ClientContext context;
  {
    MutexLock lock(&mu_);
    if (stopping_) return {grpc::Status::CANCELLED, false};
    context_ = &context;
  }
  auto reader = stub_->Subscribe(&context, request);
  reader->WaitForInitialMetadata();
  // Even a refused stream carries the instance: a daemon that restarted
  // refuses an old from_sequence beyond its new numbering (OUT_OF_RANGE).
  const std::string instance = Header(context, kInstanceMetadataKey);
  const bool restarted = CheckInstance(instance, request.from_earliest());
  if (restarted) context.TryCancel();
  uint64_t start = 0;
  if (!restarted &&
      absl::SimpleAtoi(Header(context, kStartSequenceMetadataKey), &start)) {
    Connected(instance, start);
    v1::SubscribeResponse response;
    while (reader->Read(&response)) Received(&response);
  }
  grpc::Status status = reader->Finish();
  MutexLock lock(&mu_);
  context_ = nullptr;
  return {std::move(status), restarted};
}

Subscriber::StreamEnd Subscriber::SharedSubscription(
    const v1::SubscribeRequest& request) {
  SharedStream& shared = *options_.shared_stream;
  std::shared_ptr<SharedStream::Inbox> inbox = shared.Add(request);
  bool stopping;
  {
    MutexLock lock(&mu_);
    stopping = stopping_;
    if (!stopping) inbox_ = inbox;
  }
  if (stopping) {
    shared.Cancel(inbox);
    return {grpc::Status::CANCELLED, false};
  }
  const auto end = [&](grpc::Status status, bool restarted) -> StreamEnd {
    MutexLock lock(&mu_);
    inbox_ = nullptr;
    return {std::move(status), restarted};
  };
  std::optional<SharedStream::Inbox::Item> item = inbox->Next();
  if (!item) return end(grpc::Status::CANCELLED, false);
  // As for Subscribe: a refusal carries the instance too.
  const bool restarted = CheckInstance(item->instance, request.from_earliest());
  if (restarted) {
    shared.Cancel(inbox);
    return end(grpc::Status::CANCELLED, true);
  }
  if (item->response.has_started()) {
    Connected(item->instance, item->response.started().start_sequence());
    while ((item = inbox->Next()) && item->response.has_response()) {
      Received(item->response.mutable_response());
    }
    if (!item) return end(grpc::Status::CANCELLED, false);
  }
  const v1::SubscriptionEnded& ended = item->response.ended();
  return end(grpc::Status(static_cast<grpc::StatusCode>(ended.code()),
                          ended.message()),
             false);
}

bool Subscriber::CheckInstance(const std::string& instance,
                               bool from_earliest) {
  bool restarted = false;
  if (!instance.empty() && !instance_.empty() && instance != instance_) {
    SubscriberNotice notice;
    notice.kind = SubscriberNotice::Kind::kInstanceChanged;
    notice.previous_instance = instance_;
    notice.instance = instance;
    notice.sequence = next_sequence_.value_or(0);
    Deliver(std::move(notice));
    if (!from_earliest) {
      restarted = true;
      next_sequence_.reset();
    }
  }
  if (!instance.empty()) instance_ = instance;
  return restarted;
}

void Subscriber::Connected(const std::string& instance, uint64_t start) {
  if (!next_sequence_) next_sequence_ = start;
  backoff_.Reset();
  SubscriberNotice notice;
  notice.kind = SubscriberNotice::Kind::kConnected;
  notice.instance = instance;
  notice.sequence = start;
  Deliver(std::move(notice));
}

void Subscriber::Received(v1::SubscribeResponse* response) {
  if (response->has_lagged()) {
    next_sequence_ = response->lagged().last_sequence() + 1;
    SubscriberNotice lagged;
    lagged.kind = SubscriberNotice::Kind::kLagged;
    lagged.lagged = response->lagged();
    Deliver(std::move(lagged));
  }
  for (v1::Event& event : *response->mutable_events()) {
    next_sequence_ = event.sequence() + 1;
    SubscriberNotice delivered;
    delivered.kind = SubscriberNotice::Kind::kEvent;
    delivered.event = std::move(event);
    Deliver(std::move(delivered));
  }
}

void Subscriber::Deliver(SubscriberNotice notice) {
  if (handler_) {
    handler_(std::move(notice));
    return;
  }
  MutexLock lock(&mu_);
  while (queue_.size() >= options_.queue_capacity && !stopping_) {
    changed_.WaitUntil(absl::InfiniteFuture());
  }
  if (stopping_) return;
  queue_.push_back(std::move(notice));
  changed_.SignalAll();
}

}  // namespace eventbus::client

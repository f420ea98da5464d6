#include "client/publisher.h"

#include <utility>

#include "absl/time/clock.h"
#include "client/status.h"

namespace eventbus::client {

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Create(
    std::shared_ptr<grpc::Channel> channel, PublisherOptions options) {
  if (channel == nullptr) return absl::InvalidArgumentError("no channel");
  if (options.queue_capacity == 0) {
    return absl::InvalidArgumentError("queue_capacity must be at least 1");
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
  MutexLock lock(&mu_);
  if (stopping_) {
    return absl::FailedPreconditionError("the publisher is shutting down");
  }
  if (queue_.size() >= options_.queue_capacity) {
    return absl::ResourceExhaustedError(
        "the publish queue is full (queue_capacity events waiting)");
  }
  queue_.push_back({std::move(event), std::move(done)});
  changed_.SignalAll();
  return absl::OkStatus();
}

bool Publisher::Flush(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (!queue_.empty() || in_flight_ > 0) {
    if (!changed_.WaitUntil(deadline)) break;
  }
  return queue_.empty() && in_flight_ == 0;
}

void Publisher::Run() {
  while (true) {
    Queued next;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) {
        changed_.WaitUntil(absl::InfiniteFuture());
      }
      if (stopping_) break;
      next = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
    }
    absl::StatusOr<PublishReceipt> receipt = Publish(next.event);
    if (next.done) next.done(std::move(receipt));
    MutexLock lock(&mu_);
    --in_flight_;
    changed_.SignalAll();
  }
  // Shutting down: report what was never sent.
  std::deque<Queued> abandoned;
  {
    MutexLock lock(&mu_);
    abandoned.swap(queue_);
  }
  for (Queued& queued : abandoned) {
    if (queued.done) {
      queued.done(absl::CancelledError(
          "the publisher was destroyed before this event was sent"));
    }
  }
  MutexLock lock(&mu_);
  changed_.SignalAll();
}

}  // namespace eventbus::client

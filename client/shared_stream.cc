#include "client/shared_stream.h"

#include <utility>

#include "absl/time/time.h"
#include "base/metadata.h"

namespace eventbus::client {
namespace {

std::string Instance(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find(kInstanceMetadataKey);
  return it == metadata.end()
             ? std::string()
             : std::string(it->second.data(), it->second.size());
}

}  // namespace

std::shared_ptr<SharedStream> SharedStream::Create(
    std::shared_ptr<grpc::Channel> channel) {
  return std::shared_ptr<SharedStream>(new SharedStream(std::move(channel)));
}

SharedStream::SharedStream(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)),
      stub_(v1::EventBusService::NewStub(channel_)) {}

SharedStream::~SharedStream() {
  std::vector<std::shared_ptr<Call>> calls;
  {
    MutexLock lock(&mu_);
    calls = std::move(retired_);
    if (call_ != nullptr) calls.push_back(std::move(call_));
  }
  for (const auto& call : calls) {
    call->context.TryCancel();
    call->reader.join();
  }
}

std::optional<SharedStream::Inbox::Item> SharedStream::Inbox::Next() {
  MutexLock lock(&mu_);
  while (items_.empty() && !closed_) changed_.WaitUntil(absl::InfiniteFuture());
  if (closed_) return std::nullopt;
  Item item = std::move(items_.front());
  items_.pop_front();
  changed_.SignalAll();  // room for the reader
  return item;
}

void SharedStream::Inbox::Close() {
  MutexLock lock(&mu_);
  closed_ = true;
  items_.clear();
  changed_.SignalAll();
}

bool SharedStream::Inbox::Push(Item item) {
  MutexLock lock(&mu_);
  while (items_.size() >= kInboxCapacity && !closed_)
    changed_.WaitUntil(absl::InfiniteFuture());
  if (closed_) return false;
  items_.push_back(std::move(item));
  changed_.SignalAll();
  return true;
}

std::shared_ptr<SharedStream::Inbox> SharedStream::Add(
    const v1::SubscribeRequest& request) {
  auto inbox = std::make_shared<Inbox>();
  std::shared_ptr<Call> call;
  std::vector<std::shared_ptr<Call>> finished;
  {
    MutexLock lock(&mu_);
    // Calls whose reader has returned are joined below, without the lock.
    for (auto it = retired_.begin(); it != retired_.end();) {
      if ((*it)->read_done.load(std::memory_order_acquire)) {
        finished.push_back(std::move(*it));
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
    if (call_ == nullptr || call_->broken) {
      if (call_ != nullptr) retired_.push_back(std::move(call_));
      call_ = std::make_shared<Call>();
      // Sent with the first request: creating the stream then does not
      // wait for a connection under mu_.
      call_->context.set_initial_metadata_corked(true);
      call_->stream = stub_->SubscribeStream(&call_->context);
      Call* const raw = call_.get();
      call_->reader = std::thread([this, raw] { Read(raw); });
    }
    call = call_;
    inbox->id_ = next_id_++;
    inbox->call_ = call;
    // Registered before the request goes out: the reader either routes its
    // responses here or, when the call breaks, ends it.
    call->inboxes.emplace(inbox->id_, inbox);
  }
  v1::SubscribeStreamRequest add;
  add.mutable_add()->set_subscription_id(inbox->id_);
  *add.mutable_add()->mutable_request() = request;
  Write(call.get(), add);  // a failed write breaks the call: Read ends it
  for (const auto& done : finished) done->reader.join();
  return inbox;
}

void SharedStream::Cancel(const std::shared_ptr<Inbox>& inbox) {
  inbox->Close();
  std::shared_ptr<Call> call;
  {
    MutexLock lock(&mu_);
    call = inbox->call_.lock();
    if (call == nullptr || call->broken ||
        !call->inboxes.contains(inbox->id_)) {
      return;
    }
  }
  v1::SubscribeStreamRequest cancel;
  cancel.set_cancel(inbox->id_);
  Write(call.get(), cancel);
}

void SharedStream::Write(Call* call,
                         const v1::SubscribeStreamRequest& request) {
  MutexLock lock(&call->write_mu);
  if (call->writes_closed) return;  // the reader finished the call
  call->stream->Write(request);
}

void SharedStream::Read(Call* call) {
  v1::SubscribeStreamResponse response;
  std::string instance;
  while (call->stream->Read(&response)) {
    if (instance.empty()) instance = Instance(call->context);
    std::shared_ptr<Inbox> inbox;
    {
      MutexLock lock(&mu_);
      auto it = call->inboxes.find(response.subscription_id());
      if (it == call->inboxes.end()) continue;  // not ours, or ended
      inbox = it->second;
      if (response.has_ended()) call->inboxes.erase(it);
    }
    inbox->Push({std::move(response), instance});
    response.Clear();
  }
  {
    // No write may overlap or follow Finish.
    MutexLock lock(&call->write_mu);
    call->writes_closed = true;
  }
  const grpc::Status status = call->stream->Finish();
  absl::flat_hash_map<uint64_t, std::shared_ptr<Inbox>> inboxes;
  {
    MutexLock lock(&mu_);
    call->broken = true;
    inboxes.swap(call->inboxes);
  }
  // Each open subscription ends as its Subscribe stream would have.
  for (auto& [id, inbox] : inboxes) {
    v1::SubscribeStreamResponse ended;
    ended.set_subscription_id(id);
    if (status.ok()) {
      ended.mutable_ended()->set_code(grpc::StatusCode::UNAVAILABLE);
      ended.mutable_ended()->set_message("the SubscribeStream call ended");
    } else {
      ended.mutable_ended()->set_code(status.error_code());
      ended.mutable_ended()->set_message(status.error_message());
    }
    inbox->Push({std::move(ended), instance});
  }
  call->read_done.store(true, std::memory_order_release);
}

}  // namespace eventbus::client

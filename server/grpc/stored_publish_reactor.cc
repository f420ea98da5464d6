#include "server/grpc/stored_publish_reactor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/raw_message.h"

namespace eventbus {

StoredPublishReactor* StoredPublishReactor::Start(
    const Bus& bus, uint64_t sequence, v1::PublishResponse response,
    grpc::ByteBuffer* raw_response, ServiceMetrics* metrics) {
  auto reactor = std::make_shared<StoredPublishReactor>(
      bus, sequence, std::move(response), raw_response, metrics);
  {
    MutexLock lock(&reactor->mu_);
    reactor->self_ = reactor;
  }
  reactor->Check();
  return reactor.get();
}

StoredPublishReactor::StoredPublishReactor(const Bus& bus, uint64_t sequence,
                                           v1::PublishResponse response,
                                           grpc::ByteBuffer* raw_response,
                                           ServiceMetrics* metrics)
    : bus_(bus),
      sequence_(sequence),
      response_(std::move(response)),
      raw_response_(raw_response),
      metrics_(metrics) {}

void StoredPublishReactor::OnMayPublish() { Check(); }

void StoredPublishReactor::Check() {
  grpc::Status status;
  {
    MutexLock lock(&mu_);
    if (finished_) return;
    absl::StatusOr<bool> stored = bus_.AwaitStored(sequence_, weak_from_this());
    if (stored.ok() && !*stored) return;  // armed: called again
    finished_ = true;
    if (stored.ok()) {
      *raw_response_ = SerializeRawMessage(response_);
    } else {
      status = ToGrpcStatus(stored.status());
    }
  }
  End(status);
}

void StoredPublishReactor::End(const grpc::Status& status) {
  if (!status.ok()) metrics_->PublishRejected(status.error_code());
  Finish(status);
}

void StoredPublishReactor::OnCancel() {
  {
    MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
  }
  // Not a refusal: the event has its sequence and is published.
  Finish(grpc::Status(
      grpc::StatusCode::CANCELLED,
      absl::StrCat("the call ended while the event, published as sequence ",
                   sequence_,
                   ", waited for the disk; it is stored unless "
                   "the log fails")));
}

void StoredPublishReactor::OnDone() {
  std::shared_ptr<StoredPublishReactor> self;
  {
    MutexLock lock(&mu_);
    self = std::move(self_);
  }
  // `self` may be the last reference: this is destroyed on return.
}

}  // namespace eventbus

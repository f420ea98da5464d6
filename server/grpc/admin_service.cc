#include "server/grpc/admin_service.h"

#include <algorithm>
#include <vector>

#include "base/metadata.h"
#include "server/grpc/grpc_status.h"

namespace eventbus {
namespace {

v1::Overflow ToProto(Overflow overflow) {
  switch (overflow) {
    case Overflow::kDropOldest:
      return v1::OVERFLOW_DROP_OLDEST;
    case Overflow::kBlock:
      return v1::OVERFLOW_BLOCK;
    case Overflow::kDisconnect:
      return v1::OVERFLOW_DISCONNECT;
  }
  return v1::OVERFLOW_UNSPECIFIED;
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp) {
  const int64_t nanos = absl::ToUnixNanos(time);
  timestamp->set_seconds(nanos / 1'000'000'000);
  timestamp->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

void SetDuration(absl::Duration duration, google::protobuf::Duration* proto) {
  const int64_t nanos = absl::ToInt64Nanoseconds(duration);
  proto->set_seconds(nanos / 1'000'000'000);
  proto->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::ListSubscribers(
    grpc::CallbackServerContext* context,
    const v1::ListSubscribersRequest* /*request*/,
    v1::ListSubscribersResponse* response) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status status = admission_.AuthorizeAdmin(*context); !status.ok()) {
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  // The head after the listing: no subscriber's next sequence is beyond it.
  std::vector<SubscriberSnapshot> subscribers = bus_.Subscribers();
  const uint64_t next_sequence = bus_.Stats().next_sequence;
  response->mutable_subscribers()->Reserve(
      static_cast<int>(subscribers.size()));
  for (SubscriberSnapshot& subscriber : subscribers) {
    v1::SubscriberInfo* info = response->add_subscribers();
    info->set_name(std::move(subscriber.name));
    info->set_peer(std::move(subscriber.peer));
    SetTimestamp(subscriber.start_time, info->mutable_start_time());
    *info->mutable_filter() = std::move(subscriber.filter);
    info->set_overflow(ToProto(subscriber.overflow));
    info->set_next_sequence(subscriber.next_sequence);
    info->set_behind(next_sequence -
                     std::min(next_sequence, subscriber.next_sequence));
    info->set_received(subscriber.received);
    info->set_missed(subscriber.missed);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::GetBusInfo(
    grpc::CallbackServerContext* context,
    const v1::GetBusInfoRequest* /*request*/, v1::BusInfo* response) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status status = admission_.AuthorizeAdmin(*context); !status.ok()) {
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  const BusStats stats = bus_.Stats();
  response->set_instance(instance_id_);
  response->set_head_sequence(stats.next_sequence - 1);
  response->set_oldest_sequence(stats.oldest_sequence);
  response->set_capacity(stats.capacity);
  response->set_subscribers(static_cast<uint32_t>(stats.subscribers));
  response->set_published(stats.published);
  response->set_missed(stats.missed);
  SetDuration(absl::Now() - started_, response->mutable_uptime());
  response->set_delivered(stats.delivered);
  response->set_ring_events(stats.ring_events);
  response->set_blocked_publishers(
      static_cast<uint32_t>(stats.blocked_publishers));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace eventbus

#include "server/grpc/event_bus_service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/status/status.h"
#include "base/metadata.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/publish_stream_reactor.h"
#include "server/grpc/subscribe_reactor.h"

namespace eventbus {

grpc::ServerUnaryReactor* EventBusService::Publish(
    grpc::CallbackServerContext* context, const v1::PublishRequest* request,
    v1::PublishResponse* response) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status admitted =
          admission_.AdmitPublish(*context, request->event());
      !admitted.ok()) {
    spdlog::debug("publish from {} refused: {}", context->peer(),
                  admitted.ToString());
    reactor->Finish(ToGrpcStatus(admitted));
    return reactor;
  }
  if (!request->has_event()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "PublishRequest.event is required"));
    return reactor;
  }
  absl::StatusOr<PublishResult> result = bus_.Publish(request->event());
  if (!result.ok()) {
    spdlog::debug("publish from {} refused: {}", context->peer(),
                  result.status().ToString());
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  spdlog::debug("published sequence={} id={} source={} subscribers={}",
                result->sequence, result->id, request->event().source(),
                result->subscribers);
  response->set_sequence(result->sequence);
  response->set_id(std::move(result->id));
  response->set_subscribers(static_cast<uint32_t>(result->subscribers));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventBusService::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  return SubscribeReactor::Start(context, *request, bus_, admission_,
                                 delivery_.get(), &response_budget_);
}

grpc::ServerBidiReactor<v1::PublishStreamRequest, v1::PublishStreamResponse>*
EventBusService::PublishStream(grpc::CallbackServerContext* context) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  if (absl::Status admitted = admission_.AuthorizePublisher(*context);
      !admitted.ok()) {
    spdlog::debug("publish stream from {} refused: {}", context->peer(),
                  admitted.ToString());
    return new RefusedBidiStream<v1::PublishStreamRequest,
                                 v1::PublishStreamResponse>(
        ToGrpcStatus(admitted));
  }
  return new PublishStreamReactor(context, bus_, admission_);
}

}  // namespace eventbus

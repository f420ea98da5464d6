#include "server/grpc/event_bus_service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/status/status.h"
#include "base/metadata.h"
#include "base/status_macros.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/publish_stream_reactor.h"
#include "server/grpc/raw_message.h"
#include "server/grpc/subscribe_reactor.h"

namespace eventbus {

grpc::ServerUnaryReactor* EventBusService::Publish(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request,
    grpc::ByteBuffer* raw_response) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The right first: a peer without it learns nothing about its request.
  v1::PublishRequest request;
  if (absl::Status admitted =
          [&] {
            EVENTBUS_RETURN_IF_ERROR(admission_.AuthorizePublisher(*context));
            EVENTBUS_RETURN_IF_ERROR(
                ParseRawMessage(*raw_request, "the request", &request));
            return admission_.AdmitEvent(PeerLimits::PeerOf(context->peer()),
                                         request.event());
          }();
      !admitted.ok()) {
    spdlog::debug("publish from {} refused: {}", context->peer(),
                  admitted.ToString());
    reactor->Finish(ToGrpcStatus(admitted));
    return reactor;
  }
  if (!request.has_event()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "PublishRequest.event is required"));
    return reactor;
  }
  absl::StatusOr<PublishResult> result = bus_.Publish(request.event());
  if (!result.ok()) {
    spdlog::debug("publish from {} refused: {}", context->peer(),
                  result.status().ToString());
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  spdlog::debug("published sequence={} id={} source={} subscribers={}",
                result->sequence, result->id, request.event().source(),
                result->subscribers);
  v1::PublishResponse response;
  response.set_sequence(result->sequence);
  response.set_id(std::move(result->id));
  response.set_subscribers(static_cast<uint32_t>(result->subscribers));
  *raw_response = SerializeRawMessage(response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventBusService::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  return SubscribeReactor::Start(context, *request, bus_, admission_,
                                 delivery_.get(), &response_budget_);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
EventBusService::PublishStream(grpc::CallbackServerContext* context) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  if (absl::Status admitted = admission_.AuthorizePublisher(*context);
      !admitted.ok()) {
    spdlog::debug("publish stream from {} refused: {}", context->peer(),
                  admitted.ToString());
    return new RefusedBidiStream<grpc::ByteBuffer, grpc::ByteBuffer>(
        ToGrpcStatus(admitted));
  }
  return new PublishStreamReactor(context, bus_, admission_);
}

}  // namespace eventbus

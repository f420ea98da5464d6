#include "server/grpc/event_bus_service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/status/status.h"
#include "base/metadata.h"
#include "base/status_macros.h"
#include "base/text.h"
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
            return admission_.AdmitEvent(*context, request.event());
          }();
      !admitted.ok()) {
    refusals_.Refused(RefusalLog::Level::kDebug, "publish", context->peer(),
                      admitted);
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
    refusals_.Refused(RefusalLog::Level::kDebug, "publish", context->peer(),
                      result.status());
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("published sequence={} id={} source={} subscribers={}",
                  result->sequence, EscapeForLog(result->id),
                  EscapeForLog(request.event().source()), result->subscribers);
  }
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
                                 delivery_.get(), &response_budget_,
                                 &refusals_);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
EventBusService::PublishStream(grpc::CallbackServerContext* context) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  if (absl::Status admitted = admission_.AuthorizePublisher(*context);
      !admitted.ok()) {
    refusals_.Refused(RefusalLog::Level::kDebug, "publish stream",
                      context->peer(), admitted);
    return new RefusedBidiStream<grpc::ByteBuffer, grpc::ByteBuffer>(
        ToGrpcStatus(admitted));
  }
  return new PublishStreamReactor(context, bus_, admission_, &refusals_);
}

}  // namespace eventbus

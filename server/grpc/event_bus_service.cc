#include "server/grpc/event_bus_service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/status/status.h"
#include "base/metadata.h"
#include "base/status_macros.h"
#include "base/text.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/held_publish_reactor.h"
#include "server/grpc/raw_message.h"
#include "server/grpc/stored_publish_reactor.h"

namespace eventbus {

grpc::ServerUnaryReactor* EventBusService::Publish(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request,
    grpc::ByteBuffer* raw_response) {
  context->AddInitialMetadata(kInstanceMetadataKey, instance_id_);
  const auto finish = [context](const grpc::Status& status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  };
  // The right first: a peer without it learns nothing about its request.
  v1::PublishRequest request;
  absl::StatusOr<PreparedEvent> prepared =
      [&]() -> absl::StatusOr<PreparedEvent> {
    EVENTBUS_RETURN_IF_ERROR(admission_.AuthorizePublisher(*context));
    EVENTBUS_RETURN_IF_ERROR(
        ParseRawMessage(*raw_request, "the request", &request));
    EVENTBUS_RETURN_IF_ERROR(admission_.AdmitEvent(*context, request.event()));
    if (!request.has_event()) {
      return absl::InvalidArgumentError("PublishRequest.event is required");
    }
    return bus_.Prepare(request.event());
  }();
  absl::StatusOr<PublishAttempt> attempt =
      prepared.ok() ? bus_.TryPublish(&*prepared, {}) : prepared.status();
  if (!attempt.ok()) {
    metrics_.PublishRejected(attempt.status().code());
    refusals_.Refused(RefusalLog::Level::kDebug, "publish", context->peer(),
                      attempt.status());
    return finish(ToGrpcStatus(attempt.status()));
  }
  if (!attempt->published) {
    // A BLOCK subscriber holds the bus: wait without holding this thread.
    return HeldPublishReactor::Start(context, bus_, *std::move(prepared),
                                     raw_response, delivery_.get(), &metrics_);
  }
  const PublishResult& result = *attempt->published;
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("published sequence={} id={} source={} subscribers={}",
                  result.sequence, EscapeForLog(result.id),
                  EscapeForLog(request.event().source()), result.subscribers);
  }
  v1::PublishResponse response;
  response.set_sequence(result.sequence);
  response.set_id(result.id);
  response.set_subscribers(static_cast<uint32_t>(result.subscribers));
  if (!result.stored) {
    // storage.fsync always: answered once the log has synced it.
    return StoredPublishReactor::Start(
        bus_, result.sequence, std::move(response), raw_response, &metrics_);
  }
  *raw_response = SerializeRawMessage(response);
  return finish(grpc::Status::OK);
}

void EventBusService::StartStreaming(IoThreads* subscribe_io,
                                     IoThreads* publish_io) {
  subscribe_ = SubscribeCall::Shared{
      .request =
          [this](grpc::ServerContext* context, grpc::ByteBuffer* request,
                 grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                 grpc::ServerCompletionQueue* queue, void* tag) {
            RequestSubscribe(context, request, writer, queue, queue, tag);
          },
      .bus = &bus_,
      .admission = &admission_,
      .budget = &response_budget_,
      .refusals = &refusals_,
      .metrics = &metrics_,
      .instance_id = instance_id_,
      .io = subscribe_io};
  subscribe_stream_ = SubscribeStreamCall::Shared{
      .request =
          [this](grpc::ServerContext* context,
                 SubscribeStreamCall::Stream* stream,
                 grpc::ServerCompletionQueue* queue, void* tag) {
            RequestSubscribeStream(context, stream, queue, queue, tag);
          },
      .bus = &bus_,
      .admission = &admission_,
      .budget = &response_budget_,
      .refusals = &refusals_,
      .metrics = &metrics_,
      .instance_id = instance_id_,
      .io = subscribe_io};
  publish_stream_ = PublishStreamCall::Shared{
      .request =
          [this](grpc::ServerContext* context,
                 PublishStreamCall::Stream* stream,
                 grpc::ServerCompletionQueue* queue, void* tag) {
            RequestPublishStream(context, stream, queue, queue, tag);
          },
      .bus = &bus_,
      .admission = &admission_,
      .refusals = &refusals_,
      .metrics = &metrics_,
      .instance_id = instance_id_,
      .io = publish_io};
  for (int i = 0; i < subscribe_io->size(); ++i) {
    SubscribeCall::Await(&subscribe_, i);
    SubscribeStreamCall::Await(&subscribe_stream_, i);
  }
  for (int i = 0; i < publish_io->size(); ++i) {
    PublishStreamCall::Await(&publish_stream_, i);
  }
}

}  // namespace eventbus

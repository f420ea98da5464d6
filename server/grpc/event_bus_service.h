// EventBusService: the gRPC face of a Bus.
//
// Thin adapters: Publish turns the request into a Bus::Publish call and its
// status into the RPC status; Subscribe runs one SubscribeCall per stream
// (subscribe_call.h), SubscribeStream one SubscribeStreamCall
// (subscribe_stream_call.h) and PublishStream one PublishStreamCall
// (publish_stream_call.h) on gRPC's asynchronous API, on the IoThreads
// queues given to StartStreaming. A Subscribe keeps at most one write in
// flight and assembles each response from the bytes events were encoded to
// at publish time (hence the raw Subscribe method). Every response's initial
// metadata carries `eventbus-instance`; a Subscribe stream's also carries
// `eventbus-start-sequence` (base/metadata.h).
//
// A publish does not write to the subscribers itself: it sets each woken
// stream's alarm on that stream's queue, whose thread starts the write; a
// stream whose previous write completes writes what arrived meanwhile from
// the same thread. The unary Publish stays on the callback API; one that a
// BLOCK subscriber holds back is retried on the service's DeliveryQueue.
// How many bytes a response may carry depends on how many are being written
// (the service's ResponseBudget), so memory stays bounded when thousands of
// streams are behind at once.
//
// Thread-safety: gRPC calls the handlers from any thread; the service holds
// immutable state, the (thread-safe) Bus handle, the DeliveryQueue and the
// ResponseBudget (an atomic counter). It must outlive the gRPC server that
// serves it (the server's Shutdown ends every stream).
#ifndef EVENTBUS_SERVER_GRPC_EVENT_BUS_SERVICE_H_
#define EVENTBUS_SERVER_GRPC_EVENT_BUS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "eventbus/v1/eventbus.grpc.pb.h"
#include "server/bus/bus.h"
#include "server/grpc/delivery_queue.h"
#include "server/grpc/io_threads.h"
#include "server/grpc/publish_stream_call.h"
#include "server/grpc/refusal_log.h"
#include "server/grpc/response_budget.h"
#include "server/grpc/service_metrics.h"
#include "server/grpc/subscribe_call.h"
#include "server/grpc/subscribe_stream_call.h"
#include "server/security/admission.h"

namespace eventbus {

// Every method is raw (ByteBuffer in and out): the service parses each
// request itself, see raw_message.h.
class EventBusService final
    : public v1::EventBusService::WithRawCallbackMethod_Publish<
          v1::EventBusService::WithRawMethod_Subscribe<
              v1::EventBusService::WithRawMethod_PublishStream<
                  v1::EventBusService::WithRawMethod_SubscribeStream<
                      v1::EventBusService::Service>>>> {
 public:
  // Threads that retry unary publishes held back by BLOCK subscribers.
  static constexpr int kDeliveryThreads = 1;
  // Bytes of events that the Subscribe responses gRPC is writing may hold
  // together, and the bounds of one response (see response_budget.h). 30 KiB
  // keeps a full response, with its framing and slice header, within
  // jemalloc's 32 KiB size class.
  static constexpr size_t kResponseBudgetBytes = 64 << 20;
  static constexpr size_t kMinResponseBytes = 4 * 1024;
  static constexpr size_t kMaxResponseBytes = 30 * 1024;

  // `instance_id` identifies this daemon run in every response. Every
  // Publish and Subscribe first passes `admission` (rights, per-peer
  // quotas, request limits); the default admits everything.
  EventBusService(Bus bus, std::string instance_id,
                  Admission admission = Admission())
      : bus_(std::move(bus)),
        instance_id_(std::move(instance_id)),
        admission_(std::move(admission)),
        response_budget_(kResponseBudgetBytes, kMinResponseBytes,
                         kMaxResponseBytes),
        delivery_(std::make_unique<DeliveryQueue>(kDeliveryThreads)) {}

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

  // Serves Subscribe and SubscribeStream on `subscribe_io`'s queues and
  // PublishStream on
  // `publish_io`'s (one pending call per queue), once the server is built;
  // both must outlive the server. Until this is called, those calls wait.
  void StartStreaming(IoThreads* subscribe_io, IoThreads* publish_io);

  // What the calls counted (for /metrics).
  const ServiceMetrics& metrics() const { return metrics_; }

 private:
  const Bus bus_;
  const std::string instance_id_;
  const Admission admission_;
  ResponseBudget response_budget_;
  RefusalLog refusals_;
  ServiceMetrics metrics_;
  SubscribeCall::Shared subscribe_;
  SubscribeStreamCall::Shared subscribe_stream_;
  PublishStreamCall::Shared publish_stream_;
  // Last: destroyed first, joining its threads, whose tasks (held unary
  // publishes) use the members above.
  const std::unique_ptr<DeliveryQueue> delivery_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_EVENT_BUS_SERVICE_H_

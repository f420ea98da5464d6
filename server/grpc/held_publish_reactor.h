// HeldPublishReactor: a unary Publish that a BLOCK subscriber holds back.
//
// Publish answers at once whenever it can (event_bus_service.cc); only when
// Bus::TryPublish says a kBlock subscription is in the way does the call
// become one of these, so no thread waits: the bus calls OnMayPublish when
// the subscriber reads (or leaves, or the bus closes), and an alarm fires at
// the attempt's retry_by (when the bus ends that subscriber). Either posts a
// retry to the DeliveryQueue. The call's deadline or a cancel ends it with
// nothing published.
//
// Ownership: gRPC holds the raw pointer Start returns; the reactor holds a
// reference to itself (self_) until OnDone; the bus, the delivery queue and
// the alarm hold weak references. Locking: mu_ guards the state and is held
// across each publish attempt (so a wake-up during one retries after it),
// never while calling into gRPC.
#ifndef EVENTBUS_SERVER_GRPC_HELD_PUBLISH_REACTOR_H_
#define EVENTBUS_SERVER_GRPC_HELD_PUBLISH_REACTOR_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/bus/bus.h"
#include "server/grpc/delivery_queue.h"
#include "server/grpc/service_metrics.h"

namespace eventbus {

class HeldPublishReactor final
    : public grpc::ServerUnaryReactor,
      public PublishWaiter,
      public DeliveryQueue::Task,
      public std::enable_shared_from_this<HeldPublishReactor> {
 public:
  // Takes over a publish of `event` whose first attempt was held back;
  // writes the PublishResponse to `response` (gRPC's, valid until OnDone).
  // `delivery` must outlive the call.
  static HeldPublishReactor* Start(grpc::CallbackServerContext* context,
                                   const Bus& bus, PreparedEvent event,
                                   grpc::ByteBuffer* response,
                                   DeliveryQueue* delivery,
                                   ServiceMetrics* metrics);

  // Use Start; public for std::make_shared.
  HeldPublishReactor(grpc::CallbackServerContext* context, const Bus& bus,
                     PreparedEvent event, grpc::ByteBuffer* response,
                     DeliveryQueue* delivery, ServiceMetrics* metrics);

  void OnMayPublish() override { delivery_->Post(weak_from_this()); }
  void Run() override { Attempt(); }
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Publishes and finishes, or waits again.
  void Attempt() ABSL_LOCKS_EXCLUDED(mu_);
  // Finishes, counting a refusal.
  void End(const grpc::Status& status);

  grpc::CallbackServerContext* const context_;
  const Bus bus_;
  grpc::ByteBuffer* const response_;
  DeliveryQueue* const delivery_;
  ServiceMetrics* const metrics_;
  Mutex mu_;
  std::optional<PreparedEvent> event_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Fires at the latest attempt's retry_by.
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<HeldPublishReactor> self_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_HELD_PUBLISH_REACTOR_H_

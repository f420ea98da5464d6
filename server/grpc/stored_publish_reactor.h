// StoredPublishReactor: a unary Publish whose event is published but not
// yet stored (storage.fsync always): it answers once the log's committer
// has synced the event, without a thread waiting.
//
// Publish answers at once whenever it can (event_bus_service.cc); with
// fsync always its event waits for the next group commit. The bus calls
// OnMayPublish from the committer's thread once the sync that covers it
// is done (or failed); the call then finishes with the PublishResponse, or
// with UNAVAILABLE when the log could not store the event. A call cancelled
// before that learns only that: its event is published, and stored unless
// the log fails.
//
// Ownership: gRPC holds the raw pointer Start returns; the reactor holds
// a reference to itself (self_) until OnDone; the bus holds a weak one.
// Locking: mu_ guards whether the call finished, never held while calling
// into gRPC.
#ifndef EVENTBUS_SERVER_GRPC_STORED_PUBLISH_REACTOR_H_
#define EVENTBUS_SERVER_GRPC_STORED_PUBLISH_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/bus/bus.h"
#include "server/grpc/service_metrics.h"

namespace eventbus {

class StoredPublishReactor final
    : public grpc::ServerUnaryReactor,
      public PublishWaiter,
      public std::enable_shared_from_this<StoredPublishReactor> {
 public:
  // Takes over the call once `response` (for sequence `sequence`) is
  // decided; writes it to `raw_response` (gRPC's, valid until OnDone) when
  // the event is stored.
  static StoredPublishReactor* Start(const Bus& bus, uint64_t sequence,
                                     v1::PublishResponse response,
                                     grpc::ByteBuffer* raw_response,
                                     ServiceMetrics* metrics);

  // Use Start; public for std::make_shared.
  StoredPublishReactor(const Bus& bus, uint64_t sequence,
                       v1::PublishResponse response,
                       grpc::ByteBuffer* raw_response, ServiceMetrics* metrics);

  void OnMayPublish() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Finishes when the event is stored or cannot be; otherwise waits again.
  void Check() ABSL_LOCKS_EXCLUDED(mu_);
  // Finishes, counting a refusal.
  void End(const grpc::Status& status);

  const Bus bus_;
  const uint64_t sequence_;
  const v1::PublishResponse response_;
  grpc::ByteBuffer* const raw_response_;
  ServiceMetrics* const metrics_;
  Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<StoredPublishReactor> self_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_STORED_PUBLISH_REACTOR_H_

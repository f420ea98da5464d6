// AdminService: the subscriber list and the bus's counters over gRPC, for
// `eventbus subscribers`, `eventbus info` and `eventbus top`.
//
// Each call passes Admission::AuthorizeAdmin (the `admin` grant when
// authentication is on), then reads one Bus snapshot (Bus::Subscribers,
// Bus::Stats) and answers on gRPC's callback thread: both snapshots copy a
// few numbers per subscriber under the ring's lock and build their strings
// after it, so a listing never holds publishers back for long.
//
// Thread-safety: gRPC calls the handlers from any thread; the service holds
// immutable state, the (thread-safe) Bus handle and Admission.
#ifndef EVENTBUS_SERVER_GRPC_ADMIN_SERVICE_H_
#define EVENTBUS_SERVER_GRPC_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/time/time.h"
#include "eventbus/v1/eventbus.grpc.pb.h"
#include "server/bus/bus.h"
#include "server/security/admission.h"

namespace eventbus {

class AdminService final : public v1::AdminService::CallbackService {
 public:
  // `instance_id` is the daemon run's id (as EventBusService's); uptime
  // counts from `started`.
  AdminService(Bus bus, std::string instance_id, Admission admission,
               absl::Time started)
      : bus_(std::move(bus)),
        instance_id_(std::move(instance_id)),
        admission_(std::move(admission)),
        started_(started) {}

  grpc::ServerUnaryReactor* ListSubscribers(
      grpc::CallbackServerContext* context,
      const v1::ListSubscribersRequest* request,
      v1::ListSubscribersResponse* response) override;
  grpc::ServerUnaryReactor* GetBusInfo(grpc::CallbackServerContext* context,
                                       const v1::GetBusInfoRequest* request,
                                       v1::BusInfo* response) override;

 private:
  const Bus bus_;
  const std::string instance_id_;
  const Admission admission_;
  const absl::Time started_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_ADMIN_SERVICE_H_

// Daemon: one running eventbusd: the bus, its gRPC server, health and
// reflection, started from a Config and drained on shutdown.
//
// Start() and Drain() are called from one thread (main); gRPC serves on its
// own threads in between.
#ifndef EVENTBUS_SERVER_DAEMON_H_
#define EVENTBUS_SERVER_DAEMON_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/bus.h"
#include "server/config.h"
#include "server/event_bus_service.h"

namespace eventbus {

class Daemon {
 public:
  // The service name health reports, besides "".
  static constexpr char kServiceName[] = "eventbus.v1.EventBusService";

  // Creates the bus and starts serving on config.address. Errors:
  // InvalidArgument for settings the bus refuses, Unavailable when the
  // address cannot be listened on.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const Config& config);

  // Health turns NOT_SERVING, publishes and new subscribes get UNAVAILABLE,
  // and connected subscribers receive every accepted event, then their
  // streams end with OK; after drain_timeout the rest are cancelled. Returns
  // when the server has stopped.
  void Drain();

  // The address served, with the port resolved when config asked for 0.
  const std::string& address() const { return address_; }
  const std::string& instance_id() const { return instance_id_; }

 private:
  Daemon(const Config& config, Bus bus, std::string instance_id)
      : config_(config),
        bus_(bus),
        instance_id_(instance_id),
        service_(std::move(bus), std::move(instance_id)) {}

  const Config config_;
  const Bus bus_;
  const std::string instance_id_;
  EventBusService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_DAEMON_H_

// Daemon: one running eventbusd: the bus, its gRPC server (EventBusService
// and AdminService), health and reflection, started from a Config and drained
// on shutdown. It is the composition root: the only place where the Config
// becomes each component's options (component_options.h); it keeps none of it.
//
// Security comes from the Config: TLS or mTLS on the listener
// (tls_credentials.h), who may publish and subscribe (authorizer.h), the
// per-peer quotas and request limits (admission.h), and HTTP/2 keepalive
// that closes connections to dead peers. Start logs what is on, and warns
// loudly when a listener others can reach has neither TLS nor
// authentication.
//
// Start() and Drain() are called from one thread (main); gRPC serves on its
// own threads in between.
#ifndef EVENTBUS_SERVER_DAEMON_DAEMON_H_
#define EVENTBUS_SERVER_DAEMON_DAEMON_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/bus/bus.h"
#include "server/config/config.h"
#include "server/daemon/metrics_page.h"
#include "server/forward/jetstream_forwarder.h"
#include "server/grpc/admin_service.h"
#include "server/grpc/event_bus_service.h"
#include "server/grpc/io_threads.h"
#include "server/metrics/http_endpoint.h"
#include "server/security/tls_credentials.h"

namespace eventbus {

class Daemon {
 public:
  // The service name health reports, besides "".
  static constexpr char kServiceName[] = "eventbus.v1.EventBusService";
  // Once every subscriber has drained, how long the calls still open
  // (publish streams with acknowledgements to send, health watches) have
  // before they are cancelled.
  static constexpr absl::Duration kAfterDrainGrace = absl::Seconds(1);
  // Completion queues (one thread each) for PublishStream calls, apart from
  // server.io_threads' Subscribe queues: a publish then never waits behind
  // the writes it causes.
  static constexpr int kPublishThreads = 1;

  // Creates the bus and starts serving on config.server.address. Errors:
  // InvalidArgument for settings the bus refuses, combinations
  // ValidateConfig refuses, and TLS or token files that are missing,
  // unreadable or invalid (the message names the key and the file);
  // Unavailable when the address cannot be listened on.
  // The tokens of auth.tokens are moved out of `config` into the
  // authorizer, which erases them once hashed.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(Config config);

  // Health turns NOT_SERVING, publishes and new subscribes get UNAVAILABLE,
  // and connected subscribers receive every accepted event, then their
  // streams end with OK; after drain_timeout the rest are cancelled. Once
  // they have, other calls still open get kAfterDrainGrace, not the rest of
  // drain_timeout. Returns when the server has stopped.
  void Drain();

  // SIGHUP: applies what `config` (read again from the same file,
  // environment and flags; an error when that failed) changes of the
  // settings that can change while serving: auth.tokens_file (read again),
  // auth.subjects, log.level and the server.tls files (read again and
  // checked; new handshakes use them within a second, see ServerTls). New calls
  // see them; calls already admitted keep going. Other changed settings are
  // logged as ignored until a restart. On any error nothing changes and the
  // error is logged, naming the key. Counted in
  // eventbus_config_reloads_total{result}. From main's thread only.
  void Reload(absl::StatusOr<Config> config);

  // The address served, with the port resolved when config asked for 0.
  const std::string& address() const { return address_; }
  // The metrics endpoint's address, likewise; empty when metrics are off.
  std::string metrics_address() const {
    return metrics_ != nullptr ? metrics_->address() : "";
  }
  const std::string& instance_id() const { return instance_id_; }

 private:
  Daemon(absl::Duration drain_timeout, Bus bus, std::string instance_id,
         Admission admission)
      : drain_timeout_(drain_timeout),
        bus_(bus),
        instance_id_(instance_id),
        admission_(admission),
        service_(std::move(bus), std::move(instance_id), std::move(admission)),
        admin_(bus_, instance_id_, admission_, absl::Now()) {}

  const absl::Duration drain_timeout_;
  const Bus bus_;
  const std::string instance_id_;
  // A copy of the service's: they share the authorizer a reload replaces.
  const Admission admission_;
  // The settings started with (without the tokens); a reload compares.
  Config config_;
  EventBusService service_;
  AdminService admin_;
  // Before server_, which uses its credentials.
  std::unique_ptr<ServerTls> tls_;
  // Before server_: the server is destroyed first, then its queues.
  std::unique_ptr<IoThreads> io_;
  std::unique_ptr<IoThreads> publish_io_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  // What /healthz says: true from the start until the drain begins.
  std::atomic<bool> serving_{false};
  std::atomic<uint64_t> reloads_applied_{0};
  std::atomic<uint64_t> reloads_failed_{0};
  // Forwards the durable log into NATS JetStream (forward.nats.url); stopped
  // by Drain after the subscribers.
  std::unique_ptr<JetStreamForwarder> forwarder_;
  MetricsSources metrics_sources_;
  // Last: stopped first, before what its pages read.
  std::unique_ptr<HttpEndpoint> metrics_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_DAEMON_DAEMON_H_

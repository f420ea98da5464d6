#include "server/daemon/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/random_uuid.h"
#include "base/status_macros.h"
#include "base/text.h"
#include "server/daemon/component_options.h"
#include "server/security/admission.h"
#include "server/security/authorizer.h"
#include "server/security/peer_limits.h"
#include "server/security/tls_credentials.h"
#include "server/storage/log.h"

namespace eventbus {
namespace {

// gRPC's default receive limit, kept unless events may be larger.
constexpr uint64_t kDefaultMaxReceiveBytes = 4 << 20;
// Room for the PublishRequest framing around an event at the size limit.
constexpr uint64_t kRequestOverheadBytes = 64 << 10;
// server.max_memory must hold at least this many requests of the largest
// size at once.
constexpr uint64_t kRequestsInQuota = 4;

// Clients may ping a connection that carries no data once per this
// interval (gRPC's default, 5 minutes, would send GOAWAY to most client
// keepalive settings); a client pinging more often is cut off after
// kMaxPingStrikes early pings.
constexpr int kMinClientPingIntervalMs = 10000;
constexpr int kMaxPingStrikes = 2;
// A connection must finish its handshake (TLS, and the client's first
// SETTINGS) within this long (gRPC's default: 120 s).
constexpr int kHandshakeTimeoutMs = 10000;

int Milliseconds(absl::Duration duration) {
  return static_cast<int>(absl::ToInt64Milliseconds(duration));
}

// Says what protects the daemon, and warns when a listener that other hosts
// can reach lets anyone in, or carries tokens in clear text. (No line says
// "listening on": tests find the address by that.)
void LogSecurity(const ServerConfig& config, const Authorizer& authorizer,
                 const std::string& address) {
  const bool tls = config.tls.enabled();
  const bool mtls = !config.tls.client_ca_file.empty();
  if (tls) {
    spdlog::info("TLS on: certificate {}{}", config.tls.cert_file,
                 mtls ? absl::StrCat("; client certificates required, CAs ",
                                     config.tls.client_ca_file)
                      : "");
  }
  if (authorizer.enabled()) {
    spdlog::info("authorization on: {} tokens, {} certificate subjects: {}",
                 authorizer.token_count(), authorizer.subject_count(),
                 absl::StrJoin(authorizer.Describe(), ", "));
  } else {
    spdlog::info("authorization off: every client {}may publish and subscribe",
                 mtls ? "with a certificate " : "");
  }
  if (IsLoopbackAddress(config.address)) return;
  if (!authorizer.enabled() && !mtls) {
    spdlog::warn(
        "SECURITY WARNING: {} can be reached from other hosts and has no "
        "client authentication{}: anyone who can connect may publish and "
        "subscribe. Configure auth.tokens_file or EVENTBUS_AUTH_TOKENS{}, or "
        "serve on 127.0.0.1 or a unix socket (README: Security)",
        address, tls ? "" : " and no TLS",
        tls ? " or server.tls.client_ca_file" : " and server.tls.*");
  } else if (!tls && authorizer.token_count() > 0) {
    spdlog::warn(
        "SECURITY WARNING: {} can be reached from other hosts without TLS: "
        "bearer tokens cross the network in clear text. Set "
        "server.tls.cert_file and server.tls.key_file",
        address);
  }
}

// Why gRPC could not listen on `address` (it says so only in its own log):
// the errno of binding a socket there ourselves, as gRPC would
// (SO_REUSEADDR), for example "Address already in use (EADDRINUSE)".
std::string ListenFailureReason(const std::string& address) {
  const auto reason = [](int error) {
    const char* name = strerrorname_np(error);
    return absl::StrCat(std::strerror(error), " (",
                        name != nullptr ? name : "unknown errno", ")");
  };
  if (absl::StartsWith(address, "unix:")) {
    sockaddr_un socket_address{};
    socket_address.sun_family = AF_UNIX;
    const std::string path = address.substr(5);
    path.copy(socket_address.sun_path, sizeof(socket_address.sun_path) - 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return reason(errno);
    const int bound = bind(fd, reinterpret_cast<sockaddr*>(&socket_address),
                           sizeof(socket_address));
    const int error = errno;
    close(fd);
    if (bound == 0) {
      unlink(path.c_str());
      return "gRPC refused it (see its log line above)";
    }
    return reason(error);
  }
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (absl::StartsWith(host, "[")) host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_flags = AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(host.empty() ? nullptr : host.c_str(),
                                    port.c_str(), &hints, &found);
      error != 0) {
    return absl::StrCat("cannot resolve ", host, ": ", gai_strerror(error));
  }
  std::string result = "gRPC refused it (see its log line above)";
  for (const addrinfo* candidate = found; candidate != nullptr;
       candidate = candidate->ai_next) {
    const int fd =
        socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      result = reason(errno);
      continue;
    }
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    const int bound = bind(fd, candidate->ai_addr, candidate->ai_addrlen);
    const int error = errno;
    close(fd);
    if (bound != 0) {
      result = reason(error);
      break;
    }
  }
  freeaddrinfo(found);
  return result;
}

// "127.0.0.1:0" listened on port 43215 -> "127.0.0.1:43215".
std::string ResolvedAddress(const std::string& address, int port) {
  if (absl::StartsWith(address, "unix:")) return address;
  return absl::StrCat(address.substr(0, address.rfind(':')), ":", port);
}

absl::StatusOr<std::shared_ptr<Log>> OpenLog(const StorageConfig& storage) {
  LogRecovery recovery;
  absl::StatusOr<std::unique_ptr<Log>> log =
      Log::Open(LogOptionsFrom(storage), &recovery);
  if (!log.ok()) {
    // A log that cannot open is the setting's problem, and exit status 2
    // says so; a bad segment is data loss, 1.
    return absl::Status(absl::IsDataLoss(log.status())
                            ? absl::StatusCode::kDataLoss
                            : absl::StatusCode::kInvalidArgument,
                        absl::StrCat("storage.path: ", log.status().message()));
  }
  for (const std::string& loss : recovery.losses) {
    spdlog::warn("storage: {}", EscapeForLog(loss));
  }
  const std::string events =
      recovery.first_sequence == recovery.next_sequence
          ? "no events"
          : absl::StrCat("sequences ", recovery.first_sequence, "..",
                         recovery.next_sequence - 1);
  spdlog::info("storage: {} {} in {}: {} segments, {} bytes, {}, fsync {}",
               recovery.created ? "created" : "recovered",
               EscapeForLog(storage.path), absl::FormatDuration(recovery.took),
               recovery.segments, recovery.bytes, events, storage.fsync);
  return std::shared_ptr<Log>(*std::move(log));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(Config config) {
  EVENTBUS_RETURN_IF_ERROR(ValidateConfig(config));
  const uint64_t max_receive_bytes =
      std::max(kDefaultMaxReceiveBytes,
               config.bus.max_event_bytes + kRequestOverheadBytes);
  if (config.server.max_memory < kRequestsInQuota * max_receive_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server.max_memory: ", config.server.max_memory, " bytes cannot hold ",
        kRequestsInQuota, " requests of the largest size gRPC accepts (",
        max_receive_bytes, " bytes, from bus.max_event_bytes); set at least ",
        kRequestsInQuota * max_receive_bytes));
  }
  EVENTBUS_ASSIGN_OR_RETURN(std::unique_ptr<ServerTls> tls,
                            ServerTls::Create(TlsOptionsFrom(config.server)));
  EVENTBUS_ASSIGN_OR_RETURN(
      std::shared_ptr<const Authorizer> authorizer,
      Authorizer::FromOptions(AuthorizerOptionsFrom(config.auth)));
  Admission admission(authorizer,
                      PeerLimits::Create(PeerLimitsOptionsFrom(config.limits)),
                      RequestLimitsFrom(config.limits));
  BusOptions bus_options = BusOptionsFrom(config);
  std::string instance_id = RandomUuid();  // memory only: new at each start
  std::shared_ptr<ForwardCursor> forward_cursor;
  if (!config.storage.path.empty()) {
    EVENTBUS_ASSIGN_OR_RETURN(std::shared_ptr<Log> log,
                              OpenLog(config.storage));
    instance_id = log->instance_id();
    if (!config.forward.nats.url.empty()) {
      absl::StatusOr<std::unique_ptr<ForwardCursor>> cursor =
          ForwardCursor::Open(
              absl::StrCat(config.storage.path, "/forward-nats.cursor"));
      if (!cursor.ok()) {
        return absl::Status(
            cursor.status().code(),
            absl::StrCat("forward.nats: ", cursor.status().message()));
      }
      forward_cursor = *std::move(cursor);
      spdlog::info("forward.nats: {} acknowledged through sequence {}",
                   WithoutCredentials(config.forward.nats.url),
                   forward_cursor->sequence());
    }
    // Retention keeps what the forwarder has not sent, unless it is more
    // than max_backlog behind the log's end.
    std::function<uint64_t()> retention_floor;
    if (forward_cursor != nullptr) {
      retention_floor = [cursor = forward_cursor, log,
                         max_backlog = config.forward.nats.max_backlog] {
        uint64_t floor = cursor->sequence() + 1;
        const uint64_t next = log->next_sequence();
        if (max_backlog > 0 && next > max_backlog) {
          floor = std::max(floor, next - max_backlog);
        }
        return floor;
      };
    }
    bus_options.storage = StorageOptionsFrom(config.storage, std::move(log));
    bus_options.storage.retention_floor = std::move(retention_floor);
    bus_options.storage.on_retention = [](const absl::StatusOr<int>& removed,
                                          uint64_t oldest) {
      if (removed.ok()) {
        spdlog::info(
            "storage: retention removed {} segments; the log starts at "
            "sequence {}",
            *removed, oldest);
      } else {
        spdlog::warn("storage: retention could not remove a segment: {}",
                     EscapeForLog(std::string(removed.status().message())));
      }
    };
  }
  EVENTBUS_ASSIGN_OR_RETURN(Bus bus, Bus::Create(std::move(bus_options)));
  const ServerConfig& server = config.server;
  std::unique_ptr<Daemon> daemon(new Daemon(
      server.drain_timeout, bus, std::move(instance_id), std::move(admission)));
  daemon->tls_ = std::move(tls);
  if (forward_cursor != nullptr) {
    daemon->forwarder_ = std::make_unique<JetStreamForwarder>(
        ForwarderOptionsFrom(config.forward.nats, daemon->instance_id_),
        daemon->bus_, std::move(forward_cursor));
  }

  if (!config.metrics.address.empty()) {
    daemon->metrics_sources_ = MetricsSources{
        .bus = &daemon->bus_,
        .service = &daemon->service_.metrics(),
        .version = EVENTBUS_VERSION,
        .max_subscriber_series = config.metrics.max_subscriber_series,
        .reloads_applied = &daemon->reloads_applied_,
        .reloads_failed = &daemon->reloads_failed_,
        .forwarder = daemon->forwarder_.get()};
    Daemon* const self = daemon.get();
    absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
        HttpEndpoint::Start(
            config.metrics.address,
            {.metrics = [self] { return MetricsPage(self->metrics_sources_); },
             .serving = [self] { return self->serving_.load(); }});
    if (!endpoint.ok()) {
      // The setting's problem: exit status 2 naming it (README: Metrics).
      return absl::InvalidArgumentError(
          absl::StrCat("metrics.address: ", endpoint.status().message()));
    }
    daemon->metrics_ = *std::move(endpoint);
    spdlog::info("metrics on http://{}/metrics", daemon->metrics_->address());
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(server.address, daemon->tls_->credentials(), &port);
  // gRPC sets SO_REUSEPORT by default: a second daemon on the same port
  // would silently share connections with the first instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Keepalive: ping a quiet connection, close it when the ping goes
  // unanswered; the streams of a dead peer end and leave the bus. Pings
  // continue on connections without calls or data (a subscriber waiting
  // for events sends and receives nothing).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             Milliseconds(server.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Milliseconds(server.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      kMinClientPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, kMaxPingStrikes);
  // Memory before authentication: gRPC's buffers share one quota; request
  // metadata is bounded (gRPC enforces it once the client acknowledges the
  // setting; Admission on every call); compressed requests are refused
  // before they are inflated (gRPC 1.51 would inflate a message in full
  // and only then check its size), so only identity is accepted.
  grpc::ResourceQuota quota("eventbusd");
  quota.Resize(static_cast<size_t>(server.max_memory));
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_METADATA_SIZE,
      static_cast<int>(config.limits.max_metadata_bytes));
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             kHandshakeTimeoutMs);
  builder.RegisterService(&daemon->service_);
  builder.RegisterService(&daemon->admin_);
  const int io_threads =
      server.io_threads > 0
          ? static_cast<int>(server.io_threads)
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  daemon->io_ = std::make_unique<IoThreads>(&builder, io_threads);
  daemon->publish_io_ = std::make_unique<IoThreads>(&builder, kPublishThreads);
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_receive_bytes));
  daemon->server_ = builder.BuildAndStart();
  if (daemon->server_ == nullptr ||
      (port == 0 && !absl::StartsWith(server.address, "unix:"))) {
    return absl::UnavailableError(
        absl::StrCat("server.address: cannot listen on ", server.address, ": ",
                     ListenFailureReason(server.address)));
  }
  daemon->io_->Start();
  daemon->publish_io_->Start();
  daemon->service_.StartStreaming(daemon->io_.get(), daemon->publish_io_.get());
  daemon->address_ = ResolvedAddress(server.address, port);
  LogSecurity(server, *authorizer, daemon->address_);
  grpc::HealthCheckServiceInterface* health =
      daemon->server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kServiceName, true);
  if (daemon->forwarder_ != nullptr) daemon->forwarder_->Start();
  daemon->serving_ = true;
  daemon->config_ = std::move(config);
  return daemon;
}

void Daemon::Reload(absl::StatusOr<Config> config) {
  absl::Status applied = [&]() -> absl::Status {
    if (!config.ok()) return config.status();
    if (!config->auth.tokens.empty()) {
      // EVENTBUS_AUTH_TOKENS was erased at start: what it set stays.
      OPENSSL_cleanse(config->auth.tokens.data(), config->auth.tokens.size());
      config->auth.tokens.clear();
    }
    const std::shared_ptr<const Authorizer> current = admission_.authorizer();
    EVENTBUS_ASSIGN_OR_RETURN(
        std::shared_ptr<const Authorizer> next,
        current->Reloaded(config->auth.tokens_file, config->auth.subjects));
    // Checked before anything changes: a failure leaves everything as is.
    EVENTBUS_RETURN_IF_ERROR(tls_->Rotate(TlsOptionsFrom(config->server)));
    for (const std::string& key : ChangedSettings(config_, *config)) {
      if (key == "auth.tokens_file" || key == "auth.subjects" ||
          key == "log.level" || absl::StartsWith(key, "server.tls.")) {
        continue;
      }
      spdlog::warn("reload: {} changed; it needs a restart, ignored until then",
                   key);
    }
    admission_.ReplaceAuthorizer(next);
    spdlog::set_level(spdlog::level::from_str(config->log.level));
    config_.auth.tokens_file = config->auth.tokens_file;
    config_.auth.subjects = config->auth.subjects;
    config_.log.level = config->log.level;
    config_.server.tls = config->server.tls;
    spdlog::info(
        "reload: applied; authorization {}: {} tokens, {} subjects; "
        "log.level {}{}",
        next->enabled() ? "on" : "off", next->token_count(),
        next->subject_count(), config->log.level,
        tls_->enabled() ? "; TLS files read again, served to new connections "
                          "within a second"
                        : "");
    return absl::OkStatus();
  }();
  if (applied.ok()) {
    ++reloads_applied_;
  } else {
    ++reloads_failed_;
    spdlog::error("reload failed, the settings in force are kept: {}",
                  EscapeForLog(std::string(applied.message())));
  }
}

void Daemon::Drain() {
  const absl::Time deadline = absl::Now() + drain_timeout_;
  serving_ = false;
  server_->GetHealthCheckService()->SetServingStatus(false);
  bus_.Close();
  // Logged after the bus closed: from this line on, publishes are refused.
  spdlog::info("draining: {} subscribers, up to {}", bus_.subscriber_count(),
               absl::FormatDuration(drain_timeout_));
  absl::Time cancel_at = deadline;
  if (!bus_.AwaitNoSubscribers(deadline)) {
    spdlog::warn(
        "drain timeout: {} subscribers had not read every event; cancelling "
        "their streams",
        bus_.subscriber_count());
  } else {
    // Every subscriber has every event. What can still be open: publish
    // streams, whose new events the closed bus refuses, so that only
    // acknowledgements are left to send; and calls that never end on their
    // own (a health Watch). Give those a moment, not the rest of the timeout.
    cancel_at = std::min(deadline, absl::Now() + kAfterDrainGrace);
  }
  server_->Shutdown(absl::ToChronoTime(cancel_at));
  server_->Wait();
  io_->Stop();
  publish_io_->Stop();
  // It drained with the subscribers, unless NATS was away: what it has not
  // forwarded stays in the log for the next start.
  if (forwarder_ != nullptr) forwarder_->Stop();
  // After the last accepted event: synced and closed before exit.
  if (absl::Status stored = bus_.CloseStorage(); !stored.ok()) {
    spdlog::error("storage: {}", std::string(stored.message()));
  }
  spdlog::info("stopped after sequence {}", bus_.next_sequence() - 1);
}

}  // namespace eventbus

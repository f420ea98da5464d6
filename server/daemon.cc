#include "server/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/random_uuid.h"
#include "server/status_macros.h"

namespace eventbus {
namespace {

// gRPC's default receive limit, kept unless events may be larger.
constexpr uint64_t kDefaultMaxReceiveBytes = 4 << 20;
// Room for the PublishRequest framing around an event at the size limit.
constexpr uint64_t kRequestOverheadBytes = 64 << 10;

// "127.0.0.1:0" listened on port 43215 -> "127.0.0.1:43215".
std::string ResolvedAddress(const std::string& address, int port) {
  if (absl::StartsWith(address, "unix:")) return address;
  return absl::StrCat(address.substr(0, address.rfind(':')), ":", port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const Config& config) {
  BusOptions options;
  options.capacity = config.capacity;
  options.max_event_bytes = config.max_event_bytes;
  options.max_subscribers = config.max_subscribers;
  EVENTBUS_ASSIGN_OR_RETURN(Bus bus, Bus::Create(options));
  std::unique_ptr<Daemon> daemon(new Daemon(config, bus, RandomUuid()));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.address, grpc::InsecureServerCredentials(),
                           &port);
  // gRPC sets SO_REUSEPORT by default: a second daemon on the same port
  // would silently share connections with the first instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&daemon->service_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::max(kDefaultMaxReceiveBytes,
               config.max_event_bytes + kRequestOverheadBytes)));
  daemon->server_ = builder.BuildAndStart();
  if (daemon->server_ == nullptr ||
      (port == 0 && !absl::StartsWith(config.address, "unix:"))) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.address,
                     " (address in use, or not an address of this host?)"));
  }
  daemon->address_ = ResolvedAddress(config.address, port);
  grpc::HealthCheckServiceInterface* health =
      daemon->server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kServiceName, true);
  return daemon;
}

void Daemon::Drain() {
  const absl::Time deadline = absl::Now() + config_.drain_timeout;
  server_->GetHealthCheckService()->SetServingStatus(false);
  bus_.Close();
  // Logged after the bus closed: from this line on, publishes are refused.
  spdlog::info("draining: {} subscribers, up to {}", bus_.subscriber_count(),
               absl::FormatDuration(config_.drain_timeout));
  if (!bus_.AwaitNoSubscribers(deadline)) {
    spdlog::warn(
        "drain timeout: {} subscribers had not read every event; cancelling "
        "their streams",
        bus_.subscriber_count());
  }
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  spdlog::info("stopped after sequence {}", bus_.next_sequence() - 1);
}

}  // namespace eventbus

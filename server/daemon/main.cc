// eventbusd: serves the event bus over gRPC until SIGTERM or SIGINT, then
// drains. Exit status: 0 after a drain, 1 when it cannot start, 2 for bad
// configuration or usage. Under a service manager that sets $NOTIFY_SOCKET
// (systemd Type=notify) it reports READY=1 once it serves, RELOADING=1
// around a reload and STOPPING=1 when the drain begins. SIGHUP reloads what
// can change while serving (Daemon::Reload) and never ends the process.
#include <google/protobuf/stubs/logging.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "server/config/config.h"
#include "server/daemon/daemon.h"
#include "server/daemon/json_log_formatter.h"
#include "server/daemon/shutdown_signals.h"
#include "server/daemon/systemd_notify.h"

// jemalloc's options, read when it is eventbusd's malloc (see CMakeLists.txt;
// glibc's malloc ignores the symbol): freed memory goes back to the kernel
// within about a second, from jemalloc's own thread, so that RSS falls after
// a burst (a hostile peer's buffers, a slow subscriber catching up) instead
// of staying at its peak until the next allocations.
extern "C" const char* malloc_conf =
    "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

namespace {

std::optional<std::string> GetEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// Tells the service manager, if any, about `state`; a failure is logged, not
// fatal: the bus serves either way.
void TellServiceManager(const std::string& state) {
  if (absl::Status status = eventbus::NotifyServiceManager(state);
      !status.ok()) {
    spdlog::warn("cannot notify the service manager: {}",
                 std::string(status.message()));
  }
}

void SetUpLogging(const eventbus::LogConfig& log) {
  auto logger = spdlog::stderr_logger_mt("eventbusd");
  if (log.format == "json") {
    logger->set_formatter(std::make_unique<eventbus::JsonLogFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v",
                        spdlog::pattern_time_type::utc);
  }
  const std::string& level = log.level;
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
  // Protobuf logs an error line of its own format for every request that
  // holds a string that is not UTF-8: a client could flood the log with
  // them. The refusal is the client's answer; here it is a debug line.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level,
                                     const char* file, int line,
                                     const std::string& message) {
    if (level >= google::protobuf::LOGLEVEL_FATAL) {
      spdlog::critical("protobuf {}:{}: {}", file, line, message);
    } else {
      spdlog::debug("protobuf {}:{}: {}", file, line, message);
    }
  });
}

// The tokens of EVENTBUS_AUTH_TOKENS, once copied into the config, are
// erased where the kernel shows them (/proc/PID/environ reads the
// environment block the process started with) and removed from environ.
void EraseTokensFromEnvironment() {
  static constexpr char kTokensVariable[] = "EVENTBUS_AUTH_TOKENS";
  if (char* value = std::getenv(kTokensVariable)) {
    explicit_bzero(value, std::strlen(value));
    unsetenv(kTokensVariable);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil is built with mutex deadlock detection on (kAbort), and
  // gRPC locks absl::Mutex many times per call: each lock then updates a
  // global lock graph, under a global lock, and records a stack trace. Our
  // own locks are std::mutex (base/mutex.h), checked by -Wthread-safety
  // and ThreadSanitizer instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Before any file is read or thread started: see shutdown_signals.h.
  absl::StatusOr<eventbus::ShutdownSignals*> installed =
      eventbus::ShutdownSignals::Install();
  if (!installed.ok()) {
    std::fprintf(stderr, "eventbusd: %s\n",
                 std::string(installed.status().message()).c_str());
    return 1;
  }
  // Static: reachable for the whole run, as its thread needs it (and leak
  // checkers see it so).
  static eventbus::ShutdownSignals* const signals = *installed;
  absl::StatusOr<eventbus::Invocation> invocation =
      eventbus::ParseInvocation(argc, argv, GetEnv);
  EraseTokensFromEnvironment();
  if (!invocation.ok()) {
    std::fprintf(stderr, "eventbusd: %s\n",
                 std::string(invocation.status().message()).c_str());
    return 2;
  }
  if (invocation->show_help) {
    std::fputs(eventbus::UsageText().c_str(), stdout);
    return 0;
  }
  if (invocation->show_version) {
    std::printf("eventbusd %s\n", EVENTBUS_VERSION);
    return 0;
  }
  eventbus::Config& config = invocation->config;
  SetUpLogging(config.log);
  const eventbus::BusConfig bus = config.bus;
  const uint32_t max_subscribers = config.server.max_subscribers;

  absl::StatusOr<std::unique_ptr<eventbus::Daemon>> daemon =
      eventbus::Daemon::Start(std::move(config));
  if (!daemon.ok()) {
    spdlog::error("cannot start: {}", std::string(daemon.status().message()));
    return daemon.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  signals->Serving();
  spdlog::info(
      "eventbusd {} listening on {} (capacity {}, max_event_bytes {}, "
      "max_subscribers {}, instance {})",
      EVENTBUS_VERSION, (*daemon)->address(), bus.capacity, bus.max_event_bytes,
      max_subscribers, (*daemon)->instance_id());
  TellServiceManager("READY=1\nSTATUS=serving on " + (*daemon)->address());

  int signal = 0;
  while ((signal = signals->Await()) == SIGHUP) {
    spdlog::info("received SIGHUP: reloading");
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    TellServiceManager(
        "RELOADING=1\nMONOTONIC_USEC=" +
        std::to_string(now.tv_sec * 1000000LL + now.tv_nsec / 1000));
    absl::StatusOr<eventbus::Invocation> reread =
        eventbus::ParseInvocation(argc, argv, GetEnv);
    (*daemon)->Reload(reread.ok() ? absl::StatusOr<eventbus::Config>(
                                        std::move(reread->config))
                                  : reread.status());
    TellServiceManager("READY=1\nSTATUS=serving on " + (*daemon)->address());
  }
  spdlog::info("received {}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  TellServiceManager("STOPPING=1\nSTATUS=draining");
  (*daemon)->Drain();
  return 0;
}

#include "bench/durable_workloads.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_event.h"
#include "bench/broker_process.h"
#include "bench/grpc_clients.h"
#include "bench/json_line.h"
#include "bench/nats_server.h"
#include "bench/proc_stats.h"

namespace eventbus::bench {
namespace {

constexpr char kAckMeaning[] =
    "fdatasync covered the event before its ack (storage.fsync=always, group "
    "commit: one sync for every event waiting)";
// W6's fill and replay wait at most this long in all.
constexpr int kMaxWaitMs = 600'000;

std::string AckMeaning(const std::string& fsync) {
  return fsync == "always"
             ? kAckMeaning
             : absl::StrCat("storage.fsync=", fsync,
                            ": written (write(2)) before its ack");
}

std::string ErrorLine(const std::string& workload, const std::string& error) {
  std::fprintf(stderr, "[eventbus-bench] %s: %s\n", workload.c_str(),
               error.c_str());
  return JsonLine()
      .Str("system", "eventbus")
      .Str("workload", workload)
      .Str("error", error)
      .Done();
}

// The file system `dir` is on, as statfs(2) names it.
std::string FileSystemOf(const std::string& dir) {
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs (NOT a real disk: sync figures are meaningless)";
    case 0x794C7630:
      return "overlayfs";
    default:
      return absl::StrFormat("f_type 0x%x", fs.f_type);
  }
}

// A fresh directory under `root`, removed with everything in it when this
// goes away.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& root, const std::string& prefix) {
    std::string pattern = absl::StrCat(root, "/", prefix, ".XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) bytes += entry.file_size(error);
  }
  return bytes;
}

absl::StatusOr<std::unique_ptr<BrokerProcess>> StartDurableBroker(
    const std::string& storage, const std::string& fsync,
    const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {
      "--address=127.0.0.1:0",
      absl::StrCat("--storage-path=", storage),
      absl::StrCat("--storage-fsync=", fsync),
      // Nothing is deleted while the workload runs.
      "--retention-max-bytes=0",
      "--publish-rate-per-peer=0",
      "--log-level=info",
  };
  args.insert(args.end(), extra.begin(), extra.end());
  return BrokerProcess::Start(args);
}

// What the daemon logged about opening its log ("storage: recovered PATH in
// T: ..."), the duration T; NaN when absent.
double LoggedOpenMs(const std::string& log) {
  const size_t at = log.find("storage: recovered ");
  if (at == std::string::npos) return NAN;
  const size_t in = log.find(" in ", at);
  const size_t colon = log.find(':', in);
  absl::Duration took;
  if (in == std::string::npos || colon == std::string::npos ||
      !absl::ParseDuration(log.substr(in + 4, colon - in - 4), &took)) {
    return NAN;
  }
  return absl::ToDoubleMilliseconds(took);
}

struct PublishFigures {
  double eps = 0;
  double seconds = 0;
  uint64_t errors = 0;
  std::string first_error;
  uint64_t out_of_order = 0;
  std::vector<int64_t> latencies;  // sorted
};

PublishFigures PublishDurably(const std::string& address,
                              const DurableWorkloadOptions& options,
                              bool keep_latencies) {
  StreamPublisher publisher(NewChannel(address, 0, false), options.window,
                            options.flush_every,
                            keep_latencies ? options.events : 0);
  *publisher.event() = BenchEvent();
  const int64_t start = MonotonicNanos();
  // Paced (rate > 0 with one event per request): event i goes at i/rate.
  const bool paced = options.rate > 0 && options.flush_every == 1;
  const int64_t period_ns =
      paced ? static_cast<int64_t>(1e9 / options.rate) : 0;
  for (uint64_t i = 0; i < options.events; ++i) {
    if (paced) {
      const int64_t due = start + static_cast<int64_t>(i) * period_ns;
      const int64_t now = MonotonicNanos();
      if (due > now) absl::SleepFor(absl::Nanoseconds(due - now));
    }
    StampEvent(MonotonicNanos(), publisher.event());
    publisher.Publish();
  }
  publisher.Flush();
  PublishFigures figures;
  figures.seconds = (MonotonicNanos() - start) / 1e9;
  figures.eps = options.events / figures.seconds;
  figures.errors = publisher.errors();
  figures.first_error = publisher.first_error();
  figures.out_of_order = publisher.acks_out_of_order();
  figures.latencies = publisher.ack_latencies();
  std::sort(figures.latencies.begin(), figures.latencies.end());
  return figures;
}

std::string PublishPath(const DurableWorkloadOptions& options) {
  return absl::StrFormat(
      "one PublishStream call, at most %d events unacknowledged, %d events per "
      "request (fewer when the window fills)",
      options.window, options.flush_every);
}

std::string RunW5(const DurableWorkloadOptions& options) {
  ScratchDir scratch(options.data_root, "eventbus-bench-W5");
  if (!scratch.ok()) return ErrorLine("W5", "cannot make a data directory");
  const std::string storage = scratch.path() + "/log";
  auto broker = StartDurableBroker(storage, options.fsync);
  if (!broker.ok()) return ErrorLine("W5", broker.status().ToString());
  const pid_t pid = (*broker)->pid();
  std::fprintf(stderr, "[eventbus-bench] W5: eventbusd pid %d on %s, log %s\n",
               pid, (*broker)->address().c_str(), storage.c_str());
  const double cpu_before = ReadProcessCpuSeconds(pid);
  const double self_before = SelfCpuSeconds();
  const long long written_before = ReadProcessWriteBytes(pid);
  const HostCpu host_before = ReadHostCpu();
  const PublishFigures published =
      PublishDurably((*broker)->address(), options, true);
  const double broker_cpu = ReadProcessCpuSeconds(pid) - cpu_before;
  const double client_cpu = SelfCpuSeconds() - self_before;
  const long long written = ReadProcessWriteBytes(pid) - written_before;
  const HostCpu host_after = ReadHostCpu();
  const ProcessMemory memory = ReadProcessMemory(pid);
  const int exit_status = (*broker)->Stop();
  const uint64_t disk_bytes = DirectoryBytes(storage);
  const std::vector<int64_t>& latencies = published.latencies;

  JsonLine json;
  json.Str("system", "eventbus")
      .Str("workload", "W5")
      .Int("events", static_cast<int64_t>(options.events))
      .Num("publish_eps", published.eps, 0)
      .Num("p50_us", Percentile(latencies, 0.50))
      .Num("p99_us", Percentile(latencies, 0.99))
      .Num("p999_us", Percentile(latencies, 0.999))
      .Num("max_us", latencies.empty() ? NAN : latencies.back() / 1000.0)
      .Num("broker_rss_mb", memory.hwm_kb / 1024.0, 1)
      .Num("broker_cpu_s", broker_cpu, 2)
      .Num("disk_write_bytes_per_event",
           written_before < 0 ? NAN
                              : static_cast<double>(written) / options.events,
           1)
      .Str("durable", AckMeaning(options.fsync))
      .Int("window", options.window)
      .Int("ack_errors", static_cast<int64_t>(published.errors))
      .Num("data_dir_bytes_per_event",
           static_cast<double>(disk_bytes) / options.events, 1)
      .Num("client_cpu_s", client_cpu, 2)
      .Num("host_other_cpu_s",
           (host_after.busy - host_before.busy) - broker_cpu - client_cpu, 2);
  std::string note = absl::StrFormat(
      "eventbusd (this tree), storage.fsync=%s. publish: %s; acks %s. data "
      "dir on %s. publish took %.3fs (%s); ack latency = ack read - the event "
      "sent by the client (once the window let it go). eventbusd exited %d "
      "after SIGTERM.",
      options.fsync, PublishPath(options),
      published.out_of_order == 0
          ? std::string("in order")
          : absl::StrCat(published.out_of_order, " OUT OF ORDER"),
      FileSystemOf(scratch.path()), published.seconds,
      published.errors == 0
          ? std::string("ok")
          : absl::StrCat(published.errors,
                         " failed, first: ", published.first_error),
      exit_status);
  json.Str("note", note);
  return json.Done();
}

std::string RunW6(const DurableWorkloadOptions& options) {
  ScratchDir scratch(options.data_root, "eventbus-bench-W6");
  if (!scratch.ok()) return ErrorLine("W6", "cannot make a data directory");
  const std::string storage = scratch.path() + "/log";
  double fill_eps = 0, fill_s = 0, shutdown_ms = 0;
  int fill_exit = 0;
  {
    auto broker = StartDurableBroker(storage, options.fsync);
    if (!broker.ok()) return ErrorLine("W6", broker.status().ToString());
    std::fprintf(stderr, "[eventbus-bench] W6 fill: %llu events, pid %d\n",
                 static_cast<unsigned long long>(options.events),
                 (*broker)->pid());
    const PublishFigures filled =
        PublishDurably((*broker)->address(), options, false);
    if (filled.errors > 0) {
      return ErrorLine("W6",
                       absl::StrCat("fill: ", filled.errors,
                                    " failed, first: ", filled.first_error));
    }
    fill_eps = filled.eps;
    fill_s = filled.seconds;
    const int64_t stop_began = MonotonicNanos();
    fill_exit = (*broker)->Stop(absl::Seconds(120));
    shutdown_ms = (MonotonicNanos() - stop_began) / 1e6;
  }
  const uint64_t disk_bytes = DirectoryBytes(storage);

  // Restart: recovery is process start until a first request is answered
  // (a Subscribe's headers: the daemon registered it).
  const int64_t restart = MonotonicNanos();
  auto broker = StartDurableBroker(storage, options.fsync);
  if (!broker.ok()) return ErrorLine("W6", broker.status().ToString());
  const pid_t pid = (*broker)->pid();
  auto channel = NewChannel((*broker)->address(), 1, false);
  {
    auto stub = v1::EventBusService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(kMaxWaitMs)));
    auto reader = stub->Subscribe(&context, v1::SubscribeRequest());
    reader->WaitForInitialMetadata();
    context.TryCancel();
    reader->Finish();
  }
  const double recovery_ms = (MonotonicNanos() - restart) / 1e6;
  const double open_ms = LoggedOpenMs((*broker)->Log());
  const ProcessMemory memory_ready = ReadProcessMemory(pid);

  const double cpu_before = ReadProcessCpuSeconds(pid);
  const double self_before = SelfCpuSeconds();
  const HostCpu host_before = ReadHostCpu();
  grpc::GenericStub stub(channel);
  CompletionThread thread;
  auto subscriber = std::make_unique<StreamSubscriber>(
      &stub, thread.queue(), "replay", /*stalled=*/false,
      /*latency_capacity=*/0, v1::OVERFLOW_DROP_OLDEST,
      /*from_earliest=*/true);
  const int64_t replay_began = MonotonicNanos();
  subscriber->Start();
  const bool complete = WaitFor(
      [&] { return subscriber->received() >= options.events; },
      [&] { return subscriber->received(); }, options.idle_ms, kMaxWaitMs);
  const int64_t last_receive = subscriber->last_receive_ns();
  const double broker_cpu = ReadProcessCpuSeconds(pid) - cpu_before;
  const double client_cpu = SelfCpuSeconds() - self_before;
  const HostCpu host_after = ReadHostCpu();
  const ProcessMemory memory = ReadProcessMemory(pid);
  subscriber->Cancel();
  WaitFor([&] { return subscriber->finished(); }, [] { return 0; }, 10'000,
          10'000);
  const uint64_t received = subscriber->received();
  const uint64_t missed = subscriber->missed();
  const uint64_t gaps = subscriber->gaps();
  const uint64_t responses = subscriber->responses();
  if (subscriber->finished()) {
    subscriber.reset();
  } else {
    subscriber.release();  // gRPC still refers to it
  }
  thread.Shutdown();
  const int exit_status = (*broker)->Stop();
  const double replay_s =
      received > 0 ? (last_receive - replay_began) / 1e9 : NAN;

  JsonLine json;
  json.Str("system", "eventbus")
      .Str("workload", "W6")
      .Int("subscribers", 1)
      .Int("events", static_cast<int64_t>(options.events))
      .Num("replay_eps", received / replay_s, 0)
      .Num("replay_ms", replay_s * 1000, 1)
      .Num("recovery_ms", recovery_ms, 1)
      .Int("disk_bytes", static_cast<int64_t>(disk_bytes))
      .Num("broker_rss_mb", memory.hwm_kb / 1024.0, 1)
      .Num("broker_cpu_s", broker_cpu, 2)
      .Str("durable", AckMeaning(options.fsync))
      .Int("received", static_cast<int64_t>(received))
      .Int("missing", static_cast<int64_t>(options.events -
                                           std::min(options.events, received)))
      .Int("lagged_missed", static_cast<int64_t>(missed))
      .Int("unaccounted_gaps", static_cast<int64_t>(gaps))
      .Num("log_open_ms", open_ms, 2)
      .Num("broker_rss_recovered_mb", memory_ready.rss_kb / 1024.0, 1)
      .Num("disk_bytes_per_event",
           static_cast<double>(disk_bytes) / options.events, 1)
      .Num("fill_eps", fill_eps, 0)
      .Num("fill_ms", fill_s * 1000, 1)
      .Num("shutdown_ms", shutdown_ms, 1)
      .Num("client_cpu_s", client_cpu, 2)
      .Num("host_other_cpu_s",
           (host_after.busy - host_before.busy) - broker_cpu - client_cpu, 2);
  std::string note = absl::StrFormat(
      "eventbusd (this tree), storage.fsync=%s. fill: %s, acks as in W5. data "
      "dir on %s. fill %.0f ms; stop: SIGTERM, exit %d after %.0f ms; restart "
      "on the same directory. recovery_ms = fork of the new eventbusd until "
      "the headers of its first Subscribe (the log's own open took %.2f ms). "
      "page cache not dropped. replay: one Subscribe from_earliest via the "
      "generic ByteBuffer API, responses scanned in place; replay_ms = the "
      "call started until the last event arrived, %llu responses (%.1f "
      "events each); completion: %s. eventbusd exited %d.",
      options.fsync, PublishPath(options), FileSystemOf(scratch.path()),
      fill_s * 1000, fill_exit, shutdown_ms, open_ms,
      static_cast<unsigned long long>(responses),
      responses > 0 ? static_cast<double>(received) / responses : 0.0,
      complete ? "every event" : "idle timeout (events missing)", exit_status);
  json.Str("note", note);
  return json.Done();
}

// GET http://127.0.0.1:`port``path` (HTTP/1.0: the body ends with the
// connection); the whole response, "" when it cannot connect.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      ssize_t got = 0;
      while ((got = read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, static_cast<size_t>(got));
      }
    }
  }
  close(fd);
  return response;
}

// eventbus_forward_behind_events on the daemon's metrics page; -1 when
// the page cannot be read.
int64_t ForwardBehind(int metrics_port) {
  const std::string page = HttpGet(metrics_port, "/metrics");
  const std::string name = "\neventbus_forward_behind_events ";
  const size_t at = page.find(name);
  int64_t value = -1;
  if (at == std::string::npos) return -1;
  const size_t from = at + name.size();
  if (!absl::SimpleAtoi(page.substr(from, page.find('\n', from) - from),
                        &value)) {
    return -1;
  }
  return value;
}

// The port of "metrics on http://127.0.0.1:PORT/metrics" in the log; 0
// when absent.
int LoggedMetricsPort(const std::string& log) {
  const std::string marker = "metrics on http://127.0.0.1:";
  const size_t at = log.find(marker);
  int port = 0;
  if (at == std::string::npos) return 0;
  const size_t from = at + marker.size();
  if (!absl::SimpleAtoi(log.substr(from, log.find('/', from) - from), &port)) {
    return 0;
  }
  return port;
}

// What the stream holds, read back message by message.
struct StreamFigures {
  uint64_t messages = 0;
  uint64_t out_of_order = 0;  // a message whose event is not the next one
  std::vector<int64_t> lags;  // store time - publish_time, ns, sorted
  std::string error;
};

StreamFigures ReadStreamBack(const std::string& url, uint64_t events) {
  StreamFigures figures;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  natsStatus s = natsConnection_ConnectTo(&connection, url.c_str());
  if (s == NATS_OK) s = natsConnection_JetStream(&js, connection, nullptr);
  figures.lags.reserve(events);
  for (uint64_t seq = 1; s == NATS_OK && seq <= events; ++seq) {
    natsMsg* msg = nullptr;
    s = js_GetMsg(&msg, js, "EVENTBUS", seq, nullptr, nullptr);
    if (s != NATS_OK) break;
    ++figures.messages;
    v1::Event event;
    if (!event.ParseFromArray(natsMsg_GetData(msg),
                              natsMsg_GetDataLength(msg)) ||
        event.sequence() != seq) {
      ++figures.out_of_order;
    }
    const int64_t published = event.publish_time().seconds() * 1'000'000'000 +
                              event.publish_time().nanos();
    figures.lags.push_back(natsMsg_GetTime(msg) - published);
    natsMsg_Destroy(msg);
  }
  if (s != NATS_OK) figures.error = natsStatus_GetText(s);
  // A message beyond the events: something was stored twice.
  natsMsg* extra = nullptr;
  if (s == NATS_OK && js_GetMsg(&extra, js, "EVENTBUS", events + 1, nullptr,
                                nullptr) == NATS_OK) {
    ++figures.messages;
    natsMsg_Destroy(extra);
  }
  if (js != nullptr) jsCtx_Destroy(js);
  if (connection != nullptr) natsConnection_Destroy(connection);
  std::sort(figures.lags.begin(), figures.lags.end());
  return figures;
}

// W5F and W2F: W5's or W2's publisher into a daemon forwarding to a
// nats-server of its own.
std::string RunForward(DurableWorkloadOptions options) {
  const std::string& workload = options.workload;
  const bool paced = workload == "W2F";
  if (paced) {
    options.events =
        static_cast<uint64_t>(std::llround(options.rate * options.seconds));
    options.flush_every = 1;
    options.window = 1024;
  } else {
    options.rate = 0;
  }
  ScratchDir scratch(options.data_root, "eventbus-bench-" + workload);
  if (!scratch.ok()) return ErrorLine(workload, "cannot make a data directory");
  auto nats = NatsServer::Start(options.nats_server, scratch.path() + "/nats");
  if (!nats.ok()) return ErrorLine(workload, nats.status().ToString());
  const std::string storage = scratch.path() + "/log";
  auto broker = StartDurableBroker(storage, options.fsync,
                                   {absl::StrCat("--nats-url=", (*nats)->url()),
                                    "--metrics-address=127.0.0.1:0"});
  if (!broker.ok()) return ErrorLine(workload, broker.status().ToString());
  const pid_t pid = (*broker)->pid();
  const int metrics_port = LoggedMetricsPort((*broker)->Log());
  if (metrics_port == 0) return ErrorLine(workload, "no metrics address");
  std::fprintf(stderr,
               "[eventbus-bench] %s: eventbusd pid %d on %s, nats-server pid "
               "%d on %s, %llu events\n",
               workload.c_str(), pid, (*broker)->address().c_str(),
               (*nats)->pid(), (*nats)->url().c_str(),
               static_cast<unsigned long long>(options.events));

  // The backlog, every 10 ms, while the publisher runs and until it is 0.
  std::atomic<bool> sampling{true};
  std::atomic<int64_t> behind_max{0};
  std::atomic<int64_t> behind_sum{0};
  std::atomic<int64_t> samples{0};
  std::thread sampler([&] {
    while (sampling.load()) {
      const int64_t behind = ForwardBehind(metrics_port);
      if (behind >= 0) {
        behind_max = std::max(behind_max.load(), behind);
        behind_sum += behind;
        ++samples;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
  const double cpu_before = ReadProcessCpuSeconds(pid);
  const double nats_cpu_before = ReadProcessCpuSeconds((*nats)->pid());
  const int64_t start = MonotonicNanos();
  const PublishFigures published =
      PublishDurably((*broker)->address(), options, false);
  const int64_t behind_at_end = ForwardBehind(metrics_port);
  int64_t behind = behind_at_end;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (behind != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
    behind = ForwardBehind(metrics_port);
  }
  const int64_t drained = MonotonicNanos();
  sampling = false;
  sampler.join();
  const double broker_cpu = ReadProcessCpuSeconds(pid) - cpu_before;
  const double nats_cpu =
      ReadProcessCpuSeconds((*nats)->pid()) - nats_cpu_before;
  const ProcessMemory memory = ReadProcessMemory(pid);
  const StreamFigures stream = ReadStreamBack((*nats)->url(), options.events);
  const int exit_status = (*broker)->Stop();
  const double forward_s = (drained - start) / 1e9;

  JsonLine json;
  json.Str("system", "eventbus")
      .Str("workload", workload)
      .Int("events", static_cast<int64_t>(options.events))
      .Num("publish_eps", published.eps, 0)
      .Num("forward_eps", behind == 0 ? options.events / forward_s : NAN, 0)
      .Num("forward_lag_p50_us", Percentile(stream.lags, 0.50))
      .Num("forward_lag_p99_us", Percentile(stream.lags, 0.99))
      .Num("forward_lag_p999_us", Percentile(stream.lags, 0.999))
      .Num("forward_lag_max_us",
           stream.lags.empty() ? NAN : stream.lags.back() / 1000.0)
      .Int("behind_max", behind_max.load())
      .Num("behind_mean",
           samples.load() > 0
               ? static_cast<double>(behind_sum.load()) / samples.load()
               : NAN,
           1)
      .Int("behind_at_publish_end", behind_at_end)
      .Num("drain_after_publish_ms",
           (drained - start) / 1e6 - published.seconds * 1000, 1)
      .Int("stream_messages", static_cast<int64_t>(stream.messages))
      .Int("stream_out_of_order", static_cast<int64_t>(stream.out_of_order))
      .Int("ack_errors", static_cast<int64_t>(published.errors))
      .Num("broker_cpu_s", broker_cpu, 2)
      .Num("nats_cpu_s", nats_cpu, 2)
      .Num("broker_rss_mb", memory.hwm_kb / 1024.0, 1)
      .Str("durable", AckMeaning(options.fsync));
  std::string note = absl::StrFormat(
      "eventbusd (this tree), storage.fsync=%s, forward.nats to nats-server "
      "-js (file store, R1) on this host. publish: %s%s; %.3fs (%s). "
      "behind = eventbus_forward_behind_events sampled every 10 ms (%lld "
      "samples); forward_eps = events / (first publish until behind is 0%s). "
      "forward lag = the stream's store time - the event's publish_time, "
      "every message read back with js_GetMsg%s. eventbusd exited %d.",
      options.fsync, PublishPath(options),
      paced ? absl::StrFormat(", paced at %.0f events/s", options.rate) : "",
      published.seconds,
      published.errors == 0
          ? std::string("ok")
          : absl::StrCat(published.errors,
                         " failed, first: ", published.first_error),
      static_cast<long long>(samples.load()),
      behind == 0 ? "" : ": NOT REACHED within 120 s",
      stream.error.empty() ? ""
                           : absl::StrCat(" (stopped: ", stream.error, ")"),
      exit_status);
  json.Str("note", note);
  return json.Done();
}

}  // namespace

std::string RunDurableWorkload(const DurableWorkloadOptions& options) {
  if (options.workload == "W5") return RunW5(options);
  if (options.workload == "W6") return RunW6(options);
  if (options.workload == "W5F" || options.workload == "W2F") {
    return RunForward(options);
  }
  return ErrorLine(options.workload, "not a durable workload");
}

std::string RunRawSyncLoop(const std::string& data_root, uint64_t events,
                           int batch) {
  ScratchDir scratch(data_root, "eventbus-bench-raw");
  if (!scratch.ok()) return ErrorLine("W5", "cannot make a data directory");
  const std::string path = scratch.path() + "/raw";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrorLine("W5", "cannot create " + path);
  const std::string record(256, 'r');
  std::vector<int64_t> syncs;
  syncs.reserve(events / batch + 1);
  const int64_t start = MonotonicNanos();
  bool failed = false;
  for (uint64_t i = 1; i <= events && !failed; ++i) {
    failed = write(fd, record.data(), record.size()) !=
             static_cast<ssize_t>(record.size());
    if (i % batch == 0 || i == events) {
      const int64_t before = MonotonicNanos();
      failed = failed || fdatasync(fd) != 0;
      syncs.push_back(MonotonicNanos() - before);
    }
  }
  const double seconds = (MonotonicNanos() - start) / 1e9;
  close(fd);
  if (failed) return ErrorLine("W5", "write or fdatasync failed on " + path);
  std::sort(syncs.begin(), syncs.end());
  return JsonLine()
      .Str("system", absl::StrCat("raw-fdatasync-", batch))
      .Str("workload", "W5")
      .Int("events", static_cast<int64_t>(events))
      .Num("publish_eps", events / seconds, 0)
      .Num("fdatasync_p50_us", Percentile(syncs, 0.50))
      .Num("fdatasync_p99_us", Percentile(syncs, 0.99))
      .Int("batch", batch)
      .Str("note", absl::StrFormat(
                       "the disk's limit for one writer, no broker: %d-byte "
                       "write(2) appends, one fdatasync per %d of them, on %s",
                       record.size(), batch, FileSystemOf(scratch.path())))
      .Done();
}

}  // namespace eventbus::bench

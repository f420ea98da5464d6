#include "tests/fault/scenario.h"

#include <dirent.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/proc_stats.h"
#include "client/status.h"

namespace eventbus::fault {
namespace {

constexpr size_t kFailuresKept = 20;

std::atomic<pid_t> current_daemon_pid{0};

}  // namespace

bench::JsonLine ScenarioReport::Line(const std::string& kind) const {
  bench::JsonLine line;
  line.Str("scenario", scenario_).Str("kind", kind);
  return line;
}

void ScenarioReport::Emit(const bench::JsonLine& line) {
  MutexLock lock(&mu_);
  std::printf("%s\n", line.Done().c_str());
  std::fflush(stdout);
}

void ScenarioReport::ProgressLine(const std::string& text) {
  MutexLock lock(&mu_);
  std::fprintf(
      stderr, "[%s %s] %s\n",
      absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()).c_str(),
      scenario_.c_str(), text.c_str());
}

void ScenarioReport::Fail(const std::string& what) {
  MutexLock lock(&mu_);
  ++failure_count_;
  if (failures_.size() < kFailuresKept) failures_.push_back(what);
  std::fprintf(stderr, "[%s] VIOLATED: %s\n", scenario_.c_str(), what.c_str());
}

bool ScenarioReport::ok() const {
  MutexLock lock(&mu_);
  return failure_count_ == 0;
}

std::vector<std::string> ScenarioReport::failures() const {
  MutexLock lock(&mu_);
  std::vector<std::string> failures = failures_;
  if (failure_count_ > failures_.size()) {
    failures.push_back(
        absl::StrCat("... and ", failure_count_ - failures_.size(), " more"));
  }
  return failures;
}

absl::StatusOr<std::unique_ptr<testing::DaemonProcess>> StartDaemon(
    const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--address",
                                   "127.0.0.1:0",
                                   "--publish-rate-per-peer",
                                   "0",
                                   "--max-subscribers-per-peer",
                                   "100000",
                                   "--max-subscribers",
                                   "100000"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto daemon = testing::DaemonProcess::Start(args);
  if (daemon.ok()) current_daemon_pid.store((*daemon)->pid());
  return daemon;
}

void ShowDaemonLogOnFailure(const testing::DaemonProcess& daemon,
                            ScenarioReport& report) {
  if (report.ok()) return;
  int shown = 0;
  for (absl::string_view line : absl::StrSplit(daemon.Log(), '\n')) {
    const bool wanted = absl::StrContains(line, " warning ") ||
                        absl::StrContains(line, " error ") ||
                        absl::StrContains(line, "refus");
    // Lag warnings are the scenario's intent, and many.
    if (!wanted || absl::StrContains(line, " is lagging: ")) continue;
    if (++shown > kMaxDaemonLogLines) {
      report.Progress("daemon log: (more lines not shown)");
      break;
    }
    report.Progress("daemon log: %s", line);
  }
}

pid_t CurrentDaemonPid() { return current_daemon_pid.load(); }

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // Channels with equal arguments would share one connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

const v1::Event& SampleEvent() {
  static const v1::Event* const event = [] {
    auto* e = new v1::Event;
    e->set_source("eventbus-fault");
    (*e->mutable_attributes())["team"] = "ml";
    v1::AuditEvent* audit = e->mutable_audit();
    audit->set_username("alice");
    audit->set_client_ip("10.0.0.7");
    audit->set_operation(v1::OPERATION_UPDATE);
    audit->set_resource_type(v1::RESOURCE_TYPE_CARD);
    audit->set_resource_id("model/credit/1.2.0");
    audit->set_status(v1::AUDIT_STATUS_SUCCESS);
    audit->set_registry_type(v1::REGISTRY_TYPE_MODEL);
    audit->set_route("/opsml/api/card/update");
    return e;
  }();
  return *event;
}

size_t StoredEventBytes() {
  v1::Event stored = SampleEvent();
  stored.set_sequence(UINT64_MAX / 2);
  stored.mutable_publish_time()->set_seconds(1'700'000'000);
  stored.mutable_publish_time()->set_nanos(999'999'999);
  stored.set_id("00000000-0000-4000-8000-000000000000");
  return stored.ByteSizeLong();
}

absl::StatusOr<uint64_t> PublishMarker(v1::EventBusService::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::PublishRequest request;
  *request.mutable_event() = SampleEvent();
  request.mutable_event()->set_source("eventbus-fault-marker");
  v1::PublishResponse response;
  grpc::Status status = stub.Publish(&context, request, &response);
  if (!status.ok()) {
    return client::FromGrpc(status);
  }
  return response.sequence();
}

void PublishUnaryUntilFailure(std::shared_ptr<grpc::Channel> channel,
                              const UnaryAnswer& on_answer) {
  auto stub = v1::EventBusService::NewStub(std::move(channel));
  v1::PublishRequest request;
  *request.mutable_event() = SampleEvent();
  grpc::Status status;
  while (status.ok()) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::PublishResponse response;
    const absl::Time start = absl::Now();
    status = stub->Publish(&context, request, &response);
    on_answer(status, context, response, absl::Now() - start);
  }
}

int CountFds(pid_t pid) {
  DIR* dir = opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

DaemonFigures ReadDaemonFigures(pid_t pid) {
  DaemonFigures figures;
  const bench::ProcessMemory memory = bench::ReadProcessMemory(pid);
  figures.rss_kb = memory.rss_kb;
  figures.hwm_kb = memory.hwm_kb;
  figures.fds = CountFds(pid);
  figures.cpu_seconds = bench::ReadProcessCpuSeconds(pid);
  return figures;
}

}  // namespace eventbus::fault

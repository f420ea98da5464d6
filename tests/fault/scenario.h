// What every fault scenario shares: its options, its report (figures as JSON
// lines on stdout, progress on stderr, violated properties), the daemon it
// runs against and the daemon's /proc figures.
//
// ScenarioReport is thread-safe: clients running on many threads record
// violations and print lines through it.
#ifndef EVENTBUS_TESTS_FAULT_SCENARIO_H_
#define EVENTBUS_TESTS_FAULT_SCENARIO_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "bench/json_line.h"
#include "eventbus/v1/eventbus.grpc.pb.h"
#include "tests/testing/daemon_process.h"

namespace eventbus::fault {

struct ScenarioOptions {
  // Smaller figures, so that the whole set runs in a few minutes.
  bool quick = false;
  // Seeds every random choice; printed so that a run can be repeated.
  uint64_t seed = 1;
  // Overrides the soak duration when positive (seconds).
  int soak_seconds = 0;
  // Overrides the churn's event count when positive.
  uint64_t churn_events = 0;

  // How long the soak publishes: soak_seconds, else 60 s quick, 600 s full.
  absl::Duration soak_duration() const {
    return absl::Seconds(soak_seconds > 0 ? soak_seconds : (quick ? 60 : 600));
  }
};

class ScenarioReport {
 public:
  explicit ScenarioReport(std::string scenario)
      : scenario_(std::move(scenario)) {}

  // A JSON line already holding "scenario" and "kind"; add figures and
  // Emit() it.
  bench::JsonLine Line(const std::string& kind) const;
  // Prints `line` on stdout, flushed.
  void Emit(const bench::JsonLine& line) ABSL_LOCKS_EXCLUDED(mu_);
  // Progress on stderr.
  template <typename... Args>
  void Progress(const absl::FormatSpec<Args...>& format, const Args&... args) {
    ProgressLine(absl::StrFormat(format, args...));
  }
  // Records a violated property (and prints it on stderr).
  void Fail(const std::string& what) ABSL_LOCKS_EXCLUDED(mu_);
  // Checks `condition`; records `what` as violated when false.
  bool Expect(bool condition, const std::string& what) {
    if (!condition) Fail(what);
    return condition;
  }

  const std::string& scenario() const { return scenario_; }
  bool ok() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> failures() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void ProgressLine(const std::string& text) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string scenario_;
  mutable Mutex mu_;
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
  uint64_t failure_count_ ABSL_GUARDED_BY(mu_) = 0;
};

// eventbusd on 127.0.0.1, a free port, with the per-peer limits lifted (every
// client of these scenarios is the same peer) plus `extra` flags.
absl::StatusOr<std::unique_ptr<testing::DaemonProcess>> StartDaemon(
    const std::vector<std::string>& extra);

// Prints on stderr, when `report` has failed, the daemon's log lines that
// may say why: warnings (but lag warnings), errors and refusals, at most
// kMaxDaemonLogLines.
inline constexpr int kMaxDaemonLogLines = 50;
void ShowDaemonLogOnFailure(const testing::DaemonProcess& daemon,
                            ScenarioReport& report);

// Publishes SampleEvent() on `channel` with the unary Publish, one call at
// a time (30 s deadline each), until a call fails. `on_answer` sees every
// call, the failing one too: its status, context (the daemon's metadata),
// response and duration.
using UnaryAnswer =
    std::function<void(const grpc::Status&, const grpc::ClientContext&,
                       const v1::PublishResponse&, absl::Duration took)>;
void PublishUnaryUntilFailure(std::shared_ptr<grpc::Channel> channel,
                              const UnaryAnswer& on_answer);

// The pid of the daemon StartDaemon started last (0 before), for the
// watchdog that kills it when a scenario overruns.
pid_t CurrentDaemonPid();

// A channel of its own (its own TCP connection) to `address`.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address);

// The event the scenarios publish: a small audit event.
const v1::Event& SampleEvent();
// Its size on the bus, with the fields the bus assigns (sequence, time, id).
size_t StoredEventBytes();

// Publishes one event with the unary Publish and returns its sequence: once
// every other publisher stopped, the last sequence of the bus. Errors: the
// RPC's status.
absl::StatusOr<uint64_t> PublishMarker(v1::EventBusService::Stub& stub);

// The daemon as /proc shows it.
struct DaemonFigures {
  long rss_kb = -1;
  long hwm_kb = -1;
  int fds = -1;
  double cpu_seconds = -1;
};
DaemonFigures ReadDaemonFigures(pid_t pid);
// Open file descriptors of `pid` (entries of /proc/PID/fd), -1 if unreadable.
int CountFds(pid_t pid);

}  // namespace eventbus::fault

#endif  // EVENTBUS_TESTS_FAULT_SCENARIO_H_

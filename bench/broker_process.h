// BrokerProcess: an eventbusd child process on a loopback port.
//
// Start() runs the eventbusd built next to this benchmark (EVENTBUSD_PATH, a
// compile definition) with the given flags, reads its stderr on a thread of
// its own (so the daemon never blocks on a full pipe), and returns once the
// daemon logged "listening on ADDRESS". The environment variable
// EVENTBUS_BENCH_DAEMON_WRAPPER, when set, is a command line put in front of
// the daemon's (a profiler: "valgrind --tool=callgrind"). The destructor stops
// it: SIGTERM, then SIGKILL when it has not exited after 10 s.
//
// Thread-safety: Log() and CountLogLines() may be called from any thread;
// the rest from the owner's.
#ifndef EVENTBUS_BENCH_BROKER_PROCESS_H_
#define EVENTBUS_BENCH_BROKER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace eventbus::bench {

class BrokerProcess {
 public:
  // Runs eventbusd with `args` (no argv[0]). Errors: Internal when it cannot
  // be started, FailedPrecondition when it exits before listening,
  // DeadlineExceeded when it does not listen within `timeout`; the message
  // carries its log.
  static absl::StatusOr<std::unique_ptr<BrokerProcess>> Start(
      const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(20));

  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  pid_t pid() const { return pid_; }
  // "127.0.0.1:PORT", as the daemon logged it.
  const std::string& address() const { return address_; }

  // Stops the daemon (SIGTERM, SIGKILL after `timeout`) and returns its exit
  // status, or -signal when a signal ended it. Idempotent.
  int Stop(absl::Duration timeout = absl::Seconds(10));

  std::string Log() const ABSL_LOCKS_EXCLUDED(mu_);
  int CountLogLines(const std::string& text) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  BrokerProcess(pid_t pid, int stderr_fd);
  void ReadLog(int fd) ABSL_LOCKS_EXCLUDED(mu_);

  const pid_t pid_;
  int exit_status_ = 0;
  bool exited_ = false;
  std::string address_;
  mutable absl::Mutex mu_;
  std::string log_ ABSL_GUARDED_BY(mu_);
  bool log_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_BROKER_PROCESS_H_

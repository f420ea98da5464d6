// DaemonProcess: a real eventbusd child process for end-to-end tests.
//
// Starts the binary built by this tree (path from EVENTBUSD_PATH, a compile
// definition) with the given flags, reads its stderr on a thread of its own,
// and waits, with a deadline, for the "listening on ADDRESS" line. Tests talk
// to it with real gRPC clients over loopback or a unix socket.
//
// Thread-safety: the log accessors may be called from any thread; the rest
// from the test's thread.
#ifndef EVENTBUS_TESTS_TESTING_DAEMON_PROCESS_H_
#define EVENTBUS_TESTS_TESTING_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace eventbus::testing {

class DaemonProcess {
 public:
  // Runs eventbusd with `args` (no argv[0]) and returns once it listens.
  // Errors: Internal when it cannot be started, DeadlineExceeded when it does
  // not listen within `timeout` (the message carries its log),
  // FailedPrecondition when it exits first.
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(20));

  // Runs eventbusd with `args` until it exits (or `timeout`) and returns its
  // exit status; `*log` receives its stderr.
  static absl::StatusOr<int> Run(const std::vector<std::string>& args,
                                 std::string* log,
                                 absl::Duration timeout = absl::Seconds(20));

  // Sends SIGKILL if still running.
  ~DaemonProcess();

  // "127.0.0.1:PORT" or "unix:PATH": what the daemon logged it listens on.
  const std::string& address() const { return address_; }

  // Sends `signal` (SIGTERM to drain).
  void Signal(int signal);
  // Waits for the exit; returns the exit status, or -signal when killed by
  // one, or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);

  // Waits until the log holds a line containing `text`.
  bool AwaitLog(const std::string& text, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::string Log() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  DaemonProcess(pid_t pid, int stderr_fd);
  void ReadLog(int fd) ABSL_LOCKS_EXCLUDED(mu_);

  const pid_t pid_;
  std::optional<int> exit_status_;
  std::string address_;
  mutable absl::Mutex mu_;
  std::string log_ ABSL_GUARDED_BY(mu_);
  bool log_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

}  // namespace eventbus::testing

#endif  // EVENTBUS_TESTS_TESTING_DAEMON_PROCESS_H_

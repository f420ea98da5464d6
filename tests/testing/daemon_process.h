// DaemonProcess: a real eventbusd child process for end-to-end tests.
//
// Starts the binary built by this tree (EVENTBUSD_PATH, a compile
// definition) with the given flags and waits, with a deadline, for its
// "listening on ADDRESS" line. Tests talk to it with real gRPC clients over
// loopback or a unix socket.
#ifndef EVENTBUS_TESTS_TESTING_DAEMON_PROCESS_H_
#define EVENTBUS_TESTS_TESTING_DAEMON_PROCESS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"
#include "tests/testing/temp_dir.h"

namespace eventbus::testing {

class DaemonProcess {
 public:
  // Runs eventbusd with `args` (no argv[0]) and returns once it listens.
  // Errors: Internal when it cannot be started, DeadlineExceeded when it
  // does not listen within `timeout`, FailedPrecondition when it exits
  // first (both carry its log).
  // Its $RUNTIME_DIRECTORY is `runtime_directory`, or when empty a fresh
  // TempDir removed after the process is gone.
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(20),
      const std::string& runtime_directory = "");

  // Runs eventbusd with `args` until it exits (or `timeout`) and returns its
  // exit status; `*log` receives its stderr.
  static absl::StatusOr<int> Run(const std::vector<std::string>& args,
                                 std::string* log,
                                 absl::Duration timeout = absl::Seconds(20));

  // "127.0.0.1:PORT" or "unix:PATH": what the daemon logged it listens on.
  const std::string& address() const { return address_; }

  // The daemon's process id, for its /proc figures (memory, fds, CPU).
  pid_t pid() const { return process_->pid(); }

  // Sends `signal` (SIGTERM to drain, SIGKILL to crash it).
  void Signal(int signal) { process_->Signal(signal); }
  // Waits for the exit; see ChildProcess::Wait.
  std::optional<int> Wait(absl::Duration timeout) {
    return process_->Wait(timeout);
  }
  // Waits until the log holds `text`.
  bool AwaitLog(const std::string& text, absl::Duration timeout) {
    return process_->AwaitStderr(text, timeout);
  }
  std::string Log() const { return process_->Stderr(); }

 private:
  DaemonProcess(std::unique_ptr<TempDir> runtime,
                std::unique_ptr<ChildProcess> process, std::string address)
      : runtime_(std::move(runtime)),
        process_(std::move(process)),
        address_(std::move(address)) {}

  // $RUNTIME_DIRECTORY of the daemon when the test gave none: removed
  // after the process is gone.
  std::unique_ptr<TempDir> runtime_;
  std::unique_ptr<ChildProcess> process_;
  std::string address_;
};

}  // namespace eventbus::testing

#endif  // EVENTBUS_TESTS_TESTING_DAEMON_PROCESS_H_

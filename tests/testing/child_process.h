// ChildProcess: a program run by a test, with its stdin fed from a string
// and its stdout and stderr captured by reader threads.
//
// Thread-safety: the output accessors and waits may be called from any
// thread; Signal and Wait from the test's thread.
#ifndef EVENTBUS_TESTS_TESTING_CHILD_PROCESS_H_
#define EVENTBUS_TESTS_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"

namespace eventbus::testing {

class ChildProcess {
 public:
  struct Options {
    // Written to the child's stdin, which is then closed.
    std::string stdin_text;
    // "NAME=VALUE" entries added to (or replacing in) the environment.
    std::vector<std::string> env;
  };

  // Runs argv[0] (a path) with argv. Errors: Internal when it cannot fork.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, Options options);
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv) {
    return Start(argv, Options());
  }

  // Sends SIGKILL if still running, then reaps it.
  ~ChildProcess();

  void Signal(int signal);
  // The child's process id (for /proc); it stays reserved until reaped.
  pid_t pid() const { return pid_; }
  // Waits for the exit: the exit status, -signal when killed by one, or
  // nullopt when `timeout` passed first.
  std::optional<int> Wait(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until stdout (stderr) contains `text`.
  bool AwaitStdout(const std::string& text, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  bool AwaitStderr(const std::string& text, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::string Stdout() const ABSL_LOCKS_EXCLUDED(mu_);
  std::string Stderr() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ChildProcess(pid_t pid, int stdout_fd, int stderr_fd);
  void Read(int fd, std::string* out, bool* closed) ABSL_LOCKS_EXCLUDED(mu_);
  bool Await(const std::string* out, const std::string& text,
             absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  const pid_t pid_;
  std::optional<int> exit_status_;
  mutable Mutex mu_;
  CondVar changed_{&mu_};
  std::string stdout_ ABSL_GUARDED_BY(mu_);
  std::string stderr_ ABSL_GUARDED_BY(mu_);
  bool stdout_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stderr_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread stdout_reader_;
  std::thread stderr_reader_;
};

// Runs argv to completion (bounded by `timeout`, then killed) and returns
// the exit status with the output.
struct CommandResult {
  int exit_status = -1000;  // -1000: could not run or did not exit
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         ChildProcess::Options options = {},
                         absl::Duration timeout = absl::Seconds(30));

}  // namespace eventbus::testing

#endif  // EVENTBUS_TESTS_TESTING_CHILD_PROCESS_H_

#include "tests/testing/daemon_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace eventbus::testing {
namespace {

constexpr char kListeningOn[] = "listening on ";

pid_t Spawn(const std::vector<std::string>& args, int* stderr_fd) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    std::vector<char*> argv;
    std::string binary = EVENTBUSD_PATH;
    argv.push_back(binary.data());
    std::vector<std::string> copies = args;
    for (auto& arg : copies) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  *stderr_fd = pipe_fds[0];
  return pid;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const std::vector<std::string>& args, absl::Duration timeout) {
  int fd = -1;
  const pid_t pid = Spawn(args, &fd);
  if (pid < 0) return absl::InternalError("cannot start eventbusd");
  std::unique_ptr<DaemonProcess> daemon(new DaemonProcess(pid, fd));
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&daemon->mu_);
  auto listening_or_closed =
      [d = daemon.get()]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        const size_t at = d->log_.find(kListeningOn);
        return d->log_closed_ || (at != std::string::npos &&
                                  d->log_.find('\n', at) != std::string::npos);
      };
  daemon->mu_.AwaitWithDeadline(absl::Condition(&listening_or_closed),
                                deadline);
  const size_t at = daemon->log_.find(kListeningOn);
  if (at == std::string::npos) {
    return daemon->log_closed_
               ? absl::FailedPreconditionError(
                     absl::StrCat("eventbusd exited: ", daemon->log_))
               : absl::DeadlineExceededError(
                     absl::StrCat("eventbusd did not listen: ", daemon->log_));
  }
  const size_t begin = at + std::strlen(kListeningOn);
  daemon->address_ = daemon->log_.substr(
      begin, daemon->log_.find_first_of(" \n", begin) - begin);
  return daemon;
}

absl::StatusOr<int> DaemonProcess::Run(const std::vector<std::string>& args,
                                       std::string* log,
                                       absl::Duration timeout) {
  int fd = -1;
  const pid_t pid = Spawn(args, &fd);
  if (pid < 0) return absl::InternalError("cannot start eventbusd");
  DaemonProcess daemon(pid, fd);
  std::optional<int> status = daemon.Wait(timeout);
  *log = daemon.Log();
  if (!status) return absl::DeadlineExceededError("eventbusd did not exit");
  return *status;
}

DaemonProcess::DaemonProcess(pid_t pid, int stderr_fd)
    : pid_(pid), reader_([this, stderr_fd] { ReadLog(stderr_fd); }) {}

DaemonProcess::~DaemonProcess() {
  if (!exit_status_) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  reader_.join();
}

void DaemonProcess::ReadLog(int fd) {
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) {
      log_closed_ = true;
      break;
    }
    log_.append(buffer, n);
  }
  close(fd);
}

void DaemonProcess::Signal(int signal) { kill(pid_, signal); }

std::optional<int> DaemonProcess::Wait(absl::Duration timeout) {
  if (exit_status_) return exit_status_;
  // The daemon's stderr closes when it exits; then waitpid does not block.
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&log_closed_), timeout)) {
      return std::nullopt;
    }
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return exit_status_;
}

bool DaemonProcess::AwaitLog(const std::string& text, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto found = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return log_.find(text) != std::string::npos;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
}

std::string DaemonProcess::Log() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

}  // namespace eventbus::testing

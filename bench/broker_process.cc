#include "bench/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace eventbus::bench {
namespace {

constexpr char kListeningOn[] = "listening on ";

// Starts EVENTBUSD_PATH with `args`, its stderr into a pipe whose read end
// goes to `*stderr_fd`. Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& args, int* stderr_fd) {
  // Everything the child needs is built before fork: between fork and exec
  // only async-signal-safe calls are allowed.
  std::vector<std::string> copies;
  // A profiler around the daemon, e.g. "valgrind --tool=callgrind".
  if (const char* wrapper = std::getenv("EVENTBUS_BENCH_DAEMON_WRAPPER")) {
    copies = absl::StrSplit(wrapper, ' ', absl::SkipEmpty());
  }
  copies.push_back(EVENTBUSD_PATH);
  copies.insert(copies.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : copies) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Dies with this benchmark, so no daemon outlives a crashed run.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(pipe_fds[1], STDERR_FILENO);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    return -1;
  }
  *stderr_fd = pipe_fds[0];
  return pid;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(
    const std::vector<std::string>& args, absl::Duration timeout) {
  int fd = -1;
  const pid_t pid = Spawn(args, &fd);
  if (pid < 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", EVENTBUSD_PATH, ": ", strerror(errno)));
  }
  std::unique_ptr<BrokerProcess> broker(new BrokerProcess(pid, fd));
  BrokerProcess* b = broker.get();
  auto listening_or_closed = [b]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    const size_t at = b->log_.find(kListeningOn);
    return b->log_closed_ || (at != std::string::npos &&
                              b->log_.find('\n', at) != std::string::npos);
  };
  std::string log;
  bool closed;
  {
    absl::MutexLock lock(&b->mu_);
    b->mu_.AwaitWithTimeout(absl::Condition(&listening_or_closed), timeout);
    log = b->log_;
    closed = b->log_closed_;
  }
  const size_t at = log.find(kListeningOn);
  if (at == std::string::npos) {
    broker->Stop(absl::Seconds(1));
    return closed ? absl::FailedPreconditionError(
                        absl::StrCat("eventbusd exited: ", log))
                  : absl::DeadlineExceededError(
                        absl::StrCat("eventbusd did not listen: ", log));
  }
  const size_t begin = at + std::strlen(kListeningOn);
  broker->address_ = log.substr(begin, log.find_first_of(" \n", begin) - begin);
  return broker;
}

BrokerProcess::BrokerProcess(pid_t pid, int stderr_fd)
    : pid_(pid), reader_([this, stderr_fd] { ReadLog(stderr_fd); }) {}

BrokerProcess::~BrokerProcess() {
  Stop();
  reader_.join();
}

int BrokerProcess::Stop(absl::Duration timeout) {
  if (exited_) return exit_status_;
  kill(pid_, SIGTERM);
  {
    // Its stderr closes when it exits.
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&log_closed_), timeout)) {
      kill(pid_, SIGKILL);
    }
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return exit_status_;
}

void BrokerProcess::ReadLog(int fd) {
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) {
      log_closed_ = true;
      break;
    }
    log_.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
}

std::string BrokerProcess::Log() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

int BrokerProcess::CountLogLines(const std::string& text) const {
  absl::MutexLock lock(&mu_);
  int count = 0;
  for (absl::string_view line : absl::StrSplit(log_, '\n')) {
    if (absl::StrContains(line, text)) ++count;
  }
  return count;
}

}  // namespace eventbus::bench

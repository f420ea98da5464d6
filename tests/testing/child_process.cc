#include "tests/testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/time/clock.h"

extern char** environ;

namespace eventbus::testing {
namespace {

// The environment with `overrides` applied, built before fork (the child
// may only call async-signal-safe functions).
std::vector<std::string> Environment(
    const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string current = *entry;
    const std::string name = current.substr(0, current.find('='));
    bool replaced = false;
    for (const std::string& o : overrides) {
      replaced |= o.substr(0, o.find('=')) == name;
    }
    if (!replaced) env.push_back(current);
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, Options options) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
      pipe2(err, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe failed");
  }
  std::vector<std::string> args = argv;
  std::vector<std::string> env = Environment(options.env);
  std::vector<char*> arg_pointers = Pointers(args);
  std::vector<char*> env_pointers = Pointers(env);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    // Signals blocked by the test (e.g. for sigwait) stay blocked across
    // exec; the child starts with none.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(arg_pointers[0], arg_pointers.data(), env_pointers.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  std::unique_ptr<ChildProcess> child(new ChildProcess(pid, out[0], err[0]));
  // A child that does not read its stdin gets EPIPE, not the test SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  const std::string& text = options.stdin_text;
  for (size_t written = 0; written < text.size();) {
    const ssize_t n =
        write(in[1], text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += n;
  }
  close(in[1]);
  return child;
}

ChildProcess::ChildProcess(pid_t pid, int stdout_fd, int stderr_fd)
    : pid_(pid),
      stdout_reader_(
          [this, stdout_fd] { Read(stdout_fd, &stdout_, &stdout_closed_); }),
      stderr_reader_(
          [this, stderr_fd] { Read(stderr_fd, &stderr_, &stderr_closed_); }) {}

ChildProcess::~ChildProcess() {
  if (!exit_status_) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  stdout_reader_.join();
  stderr_reader_.join();
}

void ChildProcess::Read(int fd, std::string* out, bool* closed) {
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    MutexLock lock(&mu_);
    if (n <= 0) {
      *closed = true;
      changed_.SignalAll();
      break;
    }
    out->append(buffer, n);
    changed_.SignalAll();
  }
  close(fd);
}

void ChildProcess::Signal(int signal) { kill(pid_, signal); }

std::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  if (exit_status_) return exit_status_;
  // Its output closes when it exits; then waitpid does not block.
  {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (!(stdout_closed_ && stderr_closed_)) {
      if (!changed_.WaitUntil(deadline)) return std::nullopt;
    }
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return exit_status_;
}

bool ChildProcess::Await(const std::string* out, const std::string& text,
                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  while (out->find(text) == std::string::npos) {
    if (!changed_.WaitUntil(deadline)) return false;
  }
  return true;
}

bool ChildProcess::AwaitStdout(const std::string& text,
                               absl::Duration timeout) {
  return Await(&stdout_, text, timeout);
}

bool ChildProcess::AwaitStderr(const std::string& text,
                               absl::Duration timeout) {
  return Await(&stderr_, text, timeout);
}

std::string ChildProcess::Stdout() const {
  MutexLock lock(&mu_);
  return stdout_;
}

std::string ChildProcess::Stderr() const {
  MutexLock lock(&mu_);
  return stderr_;
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         ChildProcess::Options options,
                         absl::Duration timeout) {
  CommandResult result;
  auto child = ChildProcess::Start(argv, std::move(options));
  if (!child.ok()) return result;
  result.exit_status = (*child)->Wait(timeout).value_or(-1000);
  result.out = (*child)->Stdout();
  result.err = (*child)->Stderr();
  return result;
}

}  // namespace eventbus::testing

#include "bench/nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace eventbus::bench {
namespace {

// A port free now on 127.0.0.1 (the kernel's pick, released for the child).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// SIGTERM, then SIGKILL after `grace`; reaps the child.
void StopChild(pid_t pid, absl::Duration grace) {
  kill(pid, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<NatsServer>> NatsServer::Start(
    const std::string& binary, const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  const int port = FreePort();
  if (error || port == 0) {
    return absl::InternalError(
        absl::StrCat("nats-server: cannot prepare ", dir, " or a port"));
  }
  const std::string log = dir + "/nats-server.log";
  const std::string store = dir + "/store";
  const std::string port_text = absl::StrCat(port);
  std::vector<const char*> argv = {
      binary.c_str(),    "-js", "-a",          "127.0.0.1", "-p",
      port_text.c_str(), "-sd", store.c_str(), nullptr};
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("nats-server: fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execv(binary.c_str(), const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    if (absl::StrContains(ReadFile(log), "Server is ready")) {
      return std::unique_ptr<NatsServer>(
          new NatsServer(pid, absl::StrCat("nats://127.0.0.1:", port)));
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return absl::UnavailableError(absl::StrCat(
          binary, " exited before it was ready:\n", ReadFile(log)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  StopChild(pid, absl::Seconds(1));
  return absl::UnavailableError(
      absl::StrCat(binary, " was not ready within 20 s:\n", ReadFile(log)));
}

NatsServer::~NatsServer() { StopChild(pid_, absl::Seconds(10)); }

}  // namespace eventbus::bench

#include "tests/testing/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace eventbus::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(int target_port) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof(address);
  if (listener < 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) !=
          0) {
    return absl::InternalError("cannot listen");
  }
  std::unique_ptr<TcpProxy> proxy(
      new TcpProxy(listener, ntohs(address.sin_port), target_port));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->Accept(); });
  return proxy;
}

TcpProxy::~TcpProxy() {
  shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  close(listener_);
  CutConnections();
  std::vector<std::thread> pumps;
  {
    MutexLock lock(&mu_);
    pumps.swap(pumps_);
  }
  for (auto& pump : pumps) pump.join();
  MutexLock lock(&mu_);
  for (int fd : sockets_) close(fd);
}

std::string TcpProxy::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void TcpProxy::CutConnections() {
  MutexLock lock(&mu_);
  for (int fd : sockets_) shutdown(fd, SHUT_RDWR);
}

void TcpProxy::SetRefusing(bool refusing) {
  MutexLock lock(&mu_);
  refusing_ = refusing;
}

void TcpProxy::Accept() {
  while (true) {
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;  // the listener was shut down
    {
      MutexLock lock(&mu_);
      if (refusing_) {
        close(client);
        continue;
      }
    }
    const int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target = Loopback(target_port_);
    if (connect(upstream, reinterpret_cast<sockaddr*>(&target),
                sizeof(target)) != 0) {
      close(client);
      close(upstream);
      continue;
    }
    MutexLock lock(&mu_);
    sockets_.push_back(client);
    sockets_.push_back(upstream);
    pumps_.emplace_back([client, upstream] { Pump(client, upstream); });
  }
}

// Copies both ways until either side closes, then shuts both down.
void TcpProxy::Pump(int a, int b) {
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buffer[16384];
  while (poll(fds, 2, -1) > 0) {
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        done = true;
        break;
      }
      for (ssize_t written = 0; written < n;) {
        const ssize_t w = write(fds[1 - i].fd, buffer + written, n - written);
        if (w <= 0) {
          done = true;
          break;
        }
        written += w;
      }
    }
    if (done) break;
  }
  shutdown(a, SHUT_RDWR);
  shutdown(b, SHUT_RDWR);
}

}  // namespace eventbus::testing

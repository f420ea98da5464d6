#include "server/daemon/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace eventbus {
namespace {

// Closes a descriptor when it goes out of scope.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  const int fd_;
};

// strerror, thread-safe (the GNU strerror_r returns the text).
std::string ErrnoText(int error) {
  char buffer[128];
  return strerror_r(error, buffer, sizeof(buffer));
}

}  // namespace

absl::Status NotifySocket(std::string_view socket_name,
                          std::string_view state) {
  const std::string name(socket_name);  // for messages
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const bool abstract = !socket_name.empty() && socket_name.front() == '@';
  if (socket_name.empty() || !(abstract || socket_name.front() == '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("notify socket \"", name,
                     "\": not an absolute path or an @abstract name"));
  }
  // The name must fit, with a path's terminating NUL; "@" alone names
  // nothing.
  if (socket_name.size() + (abstract ? 0 : 1) > sizeof(address.sun_path) ||
      (abstract && socket_name.size() < 2)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "notify socket \"", name, "\": not a valid socket address"));
  }
  std::memcpy(address.sun_path, socket_name.data(), socket_name.size());
  if (abstract) address.sun_path[0] = '\0';
  // An abstract name is exactly its bytes; a path ends at its NUL.
  const socklen_t length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                             socket_name.size() + (abstract ? 0 : 1));

  ScopedFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    const int error = errno;
    return absl::InternalError(absl::StrCat(
        "notify socket: cannot create a socket: ", ErrnoText(error)));
  }
  ssize_t sent;
  int error = 0;
  do {
    sent = sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&address), length);
    error = sent < 0 ? errno : 0;
  } while (error == EINTR);
  if (sent < 0) {
    return absl::UnavailableError(absl::StrCat(
        "notify socket \"", name, "\": cannot send: ", ErrnoText(error)));
  }
  if (static_cast<size_t>(sent) != state.size()) {
    return absl::UnavailableError(absl::StrCat("notify socket \"", name,
                                               "\": sent ", sent, " of ",
                                               state.size(), " bytes"));
  }
  return absl::OkStatus();
}

absl::Status NotifyServiceManager(std::string_view state) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return absl::OkStatus();
  return NotifySocket(socket, state);
}

}  // namespace eventbus

#include "server/config/address.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/config/values.h"

namespace eventbus {
namespace {

constexpr uint64_t kMaxPort = 65535;

// A host name or IPv4 address: letters, digits, '-', '_' and '.'.
bool IsHostName(absl::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

// An IPv6 address as written between brackets, with an optional %zone.
bool IsIpv6(absl::string_view host) {
  const size_t percent = host.find('%');
  if (percent != absl::string_view::npos && percent + 1 == host.size()) {
    return false;
  }
  const std::string address(host.substr(0, percent));
  in6_addr parsed;
  return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
}

// The host part of a valid host:port or [IPv6]:port address (without the
// brackets); nullopt for unix:PATH.
std::optional<absl::string_view> HostOf(absl::string_view address) {
  if (absl::StartsWith(address, "unix:")) return std::nullopt;
  if (absl::StartsWith(address, "[")) {
    return address.substr(1, address.find(']') - 1);
  }
  return address.substr(0, address.rfind(':'));
}

}  // namespace

absl::Status ValidateAddress(std::string_view text) {
  const absl::string_view address = View(text);
  if (absl::StartsWith(address, "unix:")) {
    if (address.size() == 5) {
      return absl::InvalidArgumentError(
          absl::StrCat("unix: needs a socket path, got ", Quoted(address)));
    }
    // The path and its terminating NUL must fit sockaddr_un.sun_path.
    const size_t path_bytes = address.size() - 5;
    if (path_bytes >= sizeof(sockaddr_un::sun_path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the unix socket path is ", path_bytes,
                       " bytes, over the kernel's limit of ",
                       sizeof(sockaddr_un::sun_path) - 1));
    }
    return absl::OkStatus();
  }
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos ||
        address.substr(close + 1, 1) != ":") {
      return absl::InvalidArgumentError(
          absl::StrCat("expected [IPv6]:port, got ", Quoted(address)));
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    if (!IsIpv6(host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid IPv6 address ", Quoted(host), " in ", Quoted(address)));
    }
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected host:port or unix:PATH, got ", Quoted(address)));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing host in ", Quoted(address),
                       " (use 0.0.0.0 or [::] for all interfaces)"));
    }
    if (absl::StrContains(host, ':')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "an IPv6 address needs brackets, like \"[::1]:50051\", got ",
          Quoted(address)));
    }
    if (!IsHostName(host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid host ", Quoted(host), " in ", Quoted(address)));
    }
  }
  uint64_t port_number = 0;
  if (!AllDigits(port) || port.size() > 5 ||
      !absl::SimpleAtoi(port, &port_number) || port_number > kMaxPort) {
    return absl::InvalidArgumentError(
        absl::StrCat("port must be a number between 0 and 65535, got ",
                     Quoted(port), " in ", Quoted(address)));
  }
  return absl::OkStatus();
}

bool IsLoopbackAddress(std::string_view address) {
  const std::optional<absl::string_view> host = HostOf(View(address));
  if (!host.has_value()) return true;  // unix:PATH
  if (absl::EqualsIgnoreCase(*host, "localhost")) return true;
  const std::string text(host->substr(0, host->find('%')));
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) ||
           (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

absl::Status CheckUnixSocketDirectory(std::string_view text) {
  const absl::string_view address = View(text);
  if (!absl::StartsWith(address, "unix:")) return absl::OkStatus();
  const std::string path(address.substr(5));
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "."
                                : slash == 0               ? "/"
                                             : path.substr(0, slash);
  struct stat info;
  if (stat(directory.c_str(), &info) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot create the socket ", path, ": its directory ", directory,
        " does not exist or cannot be reached (", std::strerror(errno), ")"));
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create the socket ",
                                                   path, ": ", directory,
                                                   " is not a directory"));
  }
  if (access(directory.c_str(), W_OK | X_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create the socket ", path, ": its directory ",
                     directory, " is not writable by this user"));
  }
  return absl::OkStatus();
}

}  // namespace eventbus

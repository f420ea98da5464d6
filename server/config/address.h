// Listen addresses: the syntax of server.address (host:port, [IPv6]:port or
// unix:PATH) and whether an address is reachable from other hosts.
// Stateless: safe from any thread.
#ifndef EVENTBUS_SERVER_CONFIG_ADDRESS_H_
#define EVENTBUS_SERVER_CONFIG_ADDRESS_H_

#include <string_view>

#include "absl/status/status.h"

namespace eventbus {

// host:port (host a name, an IPv4 address or an [IPv6] address with an
// optional %zone; port 0..65535) or unix:PATH (PATH short enough for
// sun_path, 107 bytes). Error: InvalidArgument with the reason only
// ("expected host:port or unix:PATH, got \"x\"").
absl::Status ValidateAddress(std::string_view address);

// For unix:PATH, whether this process can create the socket: the directory
// of PATH exists, is a directory, and is writable and searchable. OK for
// host:port. Error: InvalidArgument with the reason only.
absl::Status CheckUnixSocketDirectory(std::string_view address);

// Whether clients on other hosts cannot reach `address`: a unix socket, the
// name localhost, an IPv4 address in 127.0.0.0/8, or [::1] (IPv4-mapped
// loopback included). Anything else, names included, may be reachable.
bool IsLoopbackAddress(std::string_view address);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_ADDRESS_H_

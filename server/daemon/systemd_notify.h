// The service manager's readiness protocol (sd_notify(3)) without libsystemd:
// one datagram of newline-separated VAR=VALUE assignments ("READY=1",
// "STOPPING=1", "STATUS=...") sent to the unix datagram socket named by
// $NOTIFY_SOCKET. systemd sets that variable for Type=notify services; other
// supervisors may too. A name starting with '@' is in the abstract
// namespace (the '@' stands for the leading NUL byte).
//
// eventbusd sends READY=1 once it serves and STOPPING=1 when it starts to
// drain, so `systemctl start` returns when clients can connect and `systemctl
// stop` shows the service deactivating while it drains.
//
// Stateless: safe to call from any thread.
#ifndef EVENTBUS_SERVER_DAEMON_SYSTEMD_NOTIFY_H_
#define EVENTBUS_SERVER_DAEMON_SYSTEMD_NOTIFY_H_

#include <string_view>

#include "absl/status/status.h"

namespace eventbus {

// Sends `state` (e.g. "READY=1\nSTATUS=serving") as one datagram to the unix
// datagram socket `socket_name`: an absolute path, or "@name" for the abstract
// namespace. Errors: InvalidArgument when `socket_name` is neither or too long
// for a socket address; Unavailable when nothing receives on it (no such
// socket, refused, or the send failed); Internal when no socket can be
// created.
absl::Status NotifySocket(std::string_view socket_name, std::string_view state);

// NotifySocket to $NOTIFY_SOCKET. OK without sending anything when the
// variable is unset or empty (not run by a service manager that asks for
// notifications).
absl::Status NotifyServiceManager(std::string_view state);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_DAEMON_SYSTEMD_NOTIFY_H_

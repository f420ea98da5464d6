// Grants: what a bearer token or a client certificate subject may do, and
// their text form ("publish", "subscribe", "admin", or several joined by
// commas: "publish,subscribe,admin"), shared by
// the tokens file, EVENTBUS_AUTH_TOKENS and auth.subjects. Plain values:
// thread-safe.
#ifndef EVENTBUS_SERVER_SECURITY_GRANTS_H_
#define EVENTBUS_SERVER_SECURITY_GRANTS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace eventbus {

struct Grants {
  bool publish = false;
  bool subscribe = false;
  // AdminService: the subscriber list and the bus counters.
  bool admin = false;

  friend bool operator==(const Grants&, const Grants&) = default;
};

// Parses one or more of "publish", "subscribe" and "admin" joined by commas
// (any order, each at most once, blanks around the commas allowed). Error:
// InvalidArgument with the reason only ("grants must be ..., got ...").
absl::StatusOr<Grants> ParseGrants(std::string_view text);

// The granted rights in the order publish, subscribe, admin, joined by
// commas ("publish,subscribe", "admin"), or "none".
std::string FormatGrants(Grants grants);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_SECURITY_GRANTS_H_

// Admin views: what `eventbus subscribers`, `eventbus info` and `eventbus
// top` share: the AdminService calls, and the text they print (a subscriber
// table, the bus summary, durations and filters).
//
// Plain functions over protobuf values; the formatting ones are pure, so
// each command's output is testable without a daemon.
#ifndef EVENTBUS_CLIENT_CLI_ADMIN_VIEWS_H_
#define EVENTBUS_CLIENT_CLI_ADMIN_VIEWS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/cli/global_options.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus::cli {

// AdminService.ListSubscribers, sorted by how far behind each subscriber
// is (most first), then by name and peer. `instance` (when not null) gets
// the eventbus-instance header.
absl::StatusOr<std::vector<v1::SubscriberInfo>> ListSubscribers(
    const Connection& connection, std::string* instance = nullptr);

// AdminService.GetBusInfo.
absl::StatusOr<v1::BusInfo> GetBusInfo(const Connection& connection);

// "3d04h", "2h05m", "4m07s", "12s", "850ms".
std::string ShortDuration(absl::Duration duration);

// A filter in one short word list: "type=audit,space_name team=ml", or "-"
// for none.
std::string FormatFilter(const v1::EventFilter& filter);

// "drop_oldest", "block", "disconnect".
std::string FormatOverflow(v1::Overflow overflow);

// The subscriber table: a header line, then one line per subscriber, in
// the given order, columns padded to their widest cell:
//   NAME  PEER  OVERFLOW  BEHIND  NEXT  RECEIVED  MISSED  AGE  FILTER
// With `rates` (one per subscriber: received events per second), a RATE/S
// column follows RECEIVED. At most `max_rows` subscribers are shown; a last
// line says how many were left out. An unnamed subscriber shows "-"; names,
// peers and attributes have control characters, invalid UTF-8 and blanks
// escaped as \xNN (client-chosen: no terminal escapes). Every line ends
// with '\n'.
std::string SubscriberTable(const std::vector<v1::SubscriberInfo>& subscribers,
                            absl::Time now,
                            const std::optional<std::vector<double>>& rates,
                            size_t max_rows = SIZE_MAX);

// `eventbus info`: one "key  value" line per field of `info`.
std::string BusSummary(const v1::BusInfo& info);

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_ADMIN_VIEWS_H_

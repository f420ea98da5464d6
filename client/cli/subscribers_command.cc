#include "client/cli/subscribers_command.h"

#include <cstdio>
#include <vector>

#include "absl/time/clock.h"
#include "client/cli/admin_views.h"

namespace eventbus::cli {

SubscribersCommand::SubscribersCommand(CLI::App* parent)
    : Command(parent, "subscribers",
              "list the open subscriptions, most behind first",
              "Asks eventbus.v1.AdminService/ListSubscribers (with "
              "authentication on,\nthe token needs the admin grant). BEHIND "
              "is how many published events a\nsubscriber has not read yet; "
              "MISSED the events it lost (Lagged).") {
  app()->add_flag("--json", json_,
                  "one JSON line per subscriber (eventbus.v1.SubscriberInfo)");
}

int SubscribersCommand::Run(const Connection& connection) {
  absl::StatusOr<std::vector<v1::SubscriberInfo>> subscribers =
      ListSubscribers(connection);
  if (!subscribers.ok()) {
    return RpcFailure("listing subscribers", subscribers.status());
  }
  if (json_) {
    for (const v1::SubscriberInfo& subscriber : *subscribers) {
      PrintLine(ToJson(subscriber, /*with_defaults=*/true));
    }
    return 0;
  }
  std::fputs(SubscriberTable(*subscribers, absl::Now(), std::nullopt).c_str(),
             stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace eventbus::cli

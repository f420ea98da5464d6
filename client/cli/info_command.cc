#include "client/cli/info_command.h"

#include <cstdio>

#include "client/cli/admin_views.h"

namespace eventbus::cli {

InfoCommand::InfoCommand(CLI::App* parent)
    : Command(parent, "info",
              "print the bus's head, ring, subscribers and totals",
              "Asks eventbus.v1.AdminService/GetBusInfo (with authentication "
              "on, the\ntoken needs the admin grant).") {
  app()->add_flag("--json", json_, "one JSON line (eventbus.v1.BusInfo)");
}

int InfoCommand::Run(const Connection& connection) {
  absl::StatusOr<v1::BusInfo> info = GetBusInfo(connection);
  if (!info.ok()) return RpcFailure("reading the bus info", info.status());
  if (json_) {
    // Every field, zeros included: a script reads "missed": "0".
    PrintLine(ToJson(*info, /*with_defaults=*/true));
    return 0;
  }
  std::fputs(BusSummary(*info).c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace eventbus::cli

// InfoCommand: `eventbus info`, which prints the bus's position and totals
// (AdminService.GetBusInfo) as "key  value" lines, or with --json one JSON
// line (eventbus.v1.BusInfo).
#ifndef EVENTBUS_CLIENT_CLI_INFO_COMMAND_H_
#define EVENTBUS_CLIENT_CLI_INFO_COMMAND_H_

#include <CLI/CLI.hpp>

#include "client/cli/command.h"
#include "client/cli/global_options.h"

namespace eventbus::cli {

class InfoCommand final : public Command {
 public:
  explicit InfoCommand(CLI::App* parent);

  int Run(const Connection& connection) override;

 private:
  bool json_ = false;
};

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_INFO_COMMAND_H_

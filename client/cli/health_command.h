// HealthCommand: `eventbus health`, which asks grpc.health.v1.Health/Check
// and prints the serving status; it exits 0 only when SERVING, 1 otherwise.
#ifndef EVENTBUS_CLIENT_CLI_HEALTH_COMMAND_H_
#define EVENTBUS_CLIENT_CLI_HEALTH_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>

#include "client/cli/command.h"
#include "client/cli/global_options.h"

namespace eventbus::cli {

class HealthCommand final : public Command {
 public:
  explicit HealthCommand(CLI::App* parent);

  int Run(const Connection& connection) override;

 private:
  std::string service_;
};

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_HEALTH_COMMAND_H_

// SubscribersCommand: `eventbus subscribers`, which lists the daemon's open
// Subscribe streams (AdminService.ListSubscribers), most behind first: a
// table (admin_views.h), or with --json one JSON line per subscriber (the
// protobuf JSON mapping of eventbus.v1.SubscriberInfo), in the same order.
#ifndef EVENTBUS_CLIENT_CLI_SUBSCRIBERS_COMMAND_H_
#define EVENTBUS_CLIENT_CLI_SUBSCRIBERS_COMMAND_H_

#include <CLI/CLI.hpp>

#include "client/cli/command.h"
#include "client/cli/global_options.h"

namespace eventbus::cli {

class SubscribersCommand final : public Command {
 public:
  explicit SubscribersCommand(CLI::App* parent);

  int Run(const Connection& connection) override;

 private:
  bool json_ = false;
};

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_SUBSCRIBERS_COMMAND_H_

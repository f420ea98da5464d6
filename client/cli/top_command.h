// TopCommand: `eventbus top`, a live view of the daemon as `nats top` and
// `redis-cli --stat` give: every --interval (1s) it asks AdminService for
// the bus info and the subscriber list and redraws the terminal with the
// publish, delivery and loss rates over the last interval, the head, the
// ring and the subscribers, most behind first, each with its own receive
// rate. It runs until Ctrl-C (exit status 130) or --iterations frames.
//
// On a terminal each frame replaces the last (ANSI clear) and the table is
// cut to the window's height; otherwise frames follow one another,
// separated by a blank line. A failed first call exits as any RPC failure
// does; a later one (the daemon restarting) is shown in the frame and the
// view keeps trying. Rates start again when the instance changes.
#ifndef EVENTBUS_CLIENT_CLI_TOP_COMMAND_H_
#define EVENTBUS_CLIENT_CLI_TOP_COMMAND_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "client/cli/command.h"
#include "client/cli/global_options.h"

namespace eventbus::cli {

class TopCommand final : public Command {
 public:
  explicit TopCommand(CLI::App* parent);

  int Run(const Connection& connection) override;

 private:
  std::string interval_ = "1s";
  uint64_t iterations_ = 0;
};

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_TOP_COMMAND_H_

// PublishCommand: `eventbus publish`, which publishes one event built from
// flags (or --count copies of it, at most --rate a second), or, with
// --json, one event per line of stdin, and prints the receipt of each as a
// JSON line: {"sequence":"1","id":"...","subscribers":0}.
#ifndef EVENTBUS_CLIENT_CLI_PUBLISH_COMMAND_H_
#define EVENTBUS_CLIENT_CLI_PUBLISH_COMMAND_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/command.h"
#include "client/cli/global_options.h"
#include "client/publisher.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus::cli {

class PublishCommand final : public Command {
 public:
  explicit PublishCommand(CLI::App* parent);

  int Run(const Connection& connection) override;

 private:
  // The event the flags describe.
  absl::StatusOr<v1::Event> EventFromFlags() const;
  // Publishes each line of stdin.
  int PublishJsonLines(client::Publisher* publisher);

  bool json_ = false;
  std::string type_ = "audit";
  std::optional<std::string> id_;
  std::optional<std::string> source_;
  std::vector<std::string> attributes_;
  std::optional<std::string> registry_type_;
  std::optional<std::string> priority_;
  std::optional<std::string> count_;
  std::optional<std::string> rate_;
  // Audit events.
  std::string username_;
  std::string client_ip_;
  std::string user_agent_;
  std::string resource_id_;
  std::optional<std::string> operation_;
  std::optional<std::string> resource_type_;
  std::optional<std::string> status_;
  std::optional<std::string> access_location_;
  std::optional<std::string> error_message_;
  std::string metadata_;
  std::string route_;
  // Space-name events.
  std::string space_;
  std::string name_;
};

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_PUBLISH_COMMAND_H_

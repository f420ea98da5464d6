// SubscribeCommand: `eventbus subscribe`, which prints each event as one
// JSON line (the protobuf JSON mapping of eventbus.v1.Event), flushed per
// line. Lost events are reported as their own lines,
// {"lagged":{"missed":"5","firstSequence":"10","lastSequence":"14"}}, and a
// daemon restart as {"instanceChanged":{...}}. It reconnects with backoff
// and resumes after the last sequence seen; connection changes go to
// stderr. With --nats it reads the JetStream stream the daemons forward to
// instead (nats_source.h).
#ifndef EVENTBUS_CLIENT_CLI_SUBSCRIBE_COMMAND_H_
#define EVENTBUS_CLIENT_CLI_SUBSCRIBE_COMMAND_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/command.h"
#include "client/cli/global_options.h"
#include "client/subscriber.h"

namespace eventbus::cli {

class SubscribeCommand final : public Command {
 public:
  explicit SubscribeCommand(CLI::App* parent);

  int Run(const Connection& connection) override;

 private:
  // The subscriber options the flags describe.
  absl::StatusOr<client::SubscriberOptions> OptionsFromFlags() const;

  std::optional<std::string> from_sequence_;
  bool from_earliest_ = false;
  std::vector<std::string> types_;
  std::vector<std::string> attributes_;
  std::string expression_;
  std::string name_ = "eventbus-cli";
  std::string overflow_ = "drop-oldest";
  std::optional<std::string> count_;
  // --nats: the JetStream stream of forwarded events instead of the bus.
  std::string nats_;
  std::string nats_stream_ = "EVENTBUS";
  std::string nats_subject_ = "eventbus.>";
};

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_SUBSCRIBE_COMMAND_H_

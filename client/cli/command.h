// Command: one subcommand of the `eventbus` CLI (publish, subscribe,
// health), with the exit statuses and output helpers the commands share.
//
// A command declares its CLI11 subcommand and flags in its constructor;
// after CLI::App::parse, main() runs the one the command line named with the
// connection the global flags describe.
//
// Exit statuses: 0 on success, 1 when health is not SERVING, 2 on a usage
// error, 64 + the gRPC status code when an RPC fails (as grpcurl does), 130
// on SIGINT or SIGTERM.
#ifndef EVENTBUS_CLIENT_CLI_COMMAND_H_
#define EVENTBUS_CLIENT_CLI_COMMAND_H_

#include <google/protobuf/message.h>

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/status.h"
#include "client/cli/global_options.h"

namespace eventbus::cli {

inline constexpr int kUsageError = 2;
inline constexpr int kRpcErrorBase = 64;
inline constexpr int kInterrupted = 130;

class Command {
 public:
  virtual ~Command() = default;
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;

  // The CLI11 subcommand; parsed() once the command line named it.
  CLI::App* app() const { return app_; }
  bool parsed() const { return app_->parsed(); }

  // Runs the command, after parsing; returns the exit status.
  virtual int Run(const Connection& connection) = 0;

 protected:
  // Adds the subcommand `name` to `parent`, described by a one-line
  // `summary` (what `eventbus --help` lists) and the paragraphs of
  // `details` (for `eventbus NAME --help`). It lets the global flags
  // through (CLI::App::fallthrough), so they may follow the command too.
  Command(CLI::App* parent, const std::string& name, const std::string& summary,
          const std::string& details);

  // Prints `status` as a usage error of this command; returns kUsageError.
  int UsageFailure(const absl::Status& status) const;

 private:
  CLI::App* const app_;
};

// Prints "eventbus: MESSAGE" and where to find help (`eventbus COMMAND
// --help` for `app`) to stderr; returns kUsageError.
int ReportUsageError(const CLI::App& app, const std::string& message);

// The hint that follows a usage error of `app`: "Run 'eventbus publish
// --help' for more information."
std::string HelpHint(const CLI::App& app);

// Prints "eventbus: WHAT failed: STATUS" to stderr; returns 64 + the code.
int RpcFailure(const char* what, const absl::Status& status);

// `message` in the protobuf JSON mapping, on one line; fields at their
// default value only `with_defaults`.
std::string ToJson(const google::protobuf::Message& message,
                   bool with_defaults = false);

// Writes `line` and a newline to stdout and flushes it.
void PrintLine(const std::string& line);

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_COMMAND_H_

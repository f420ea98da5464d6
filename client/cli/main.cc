// eventbus: the command-line client of eventbusd.
//
//   eventbus [global flags] publish   [flags]   publish events, print receipts
//   eventbus [global flags] subscribe [flags]   print events as JSON lines
//   eventbus [global flags] health    [flags]   SERVING or not
//   eventbus [global flags] subscribers [flags] the open subscriptions
//   eventbus [global flags] info      [flags]   the bus's head and totals
//   eventbus [global flags] top       [flags]   a live view, every second
//   eventbus help [COMMAND]
//
// The global flags (client/cli/global_options.h) may also follow the
// command: `eventbus subscribe --server 10.0.0.5:50051`. Data goes to
// stdout, diagnostics to stderr; client/cli/command.h lists the exit
// statuses.
//
// main() builds the CLI::App, parses the command line (CLI11), then runs
// the command it named with the connection the global flags describe.
// SIGINT and SIGTERM go to a thread of their own, which interrupts the
// command (exit status 130).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli/command.h"
#include "client/cli/global_options.h"
#include "client/cli/health_command.h"
#include "client/cli/info_command.h"
#include "client/cli/interrupt.h"
#include "client/cli/publish_command.h"
#include "client/cli/subscribe_command.h"
#include "client/cli/subscribers_command.h"
#include "client/cli/top_command.h"

namespace eventbus::cli {
namespace {

constexpr char kDescription[] =
    "The command-line client of eventbusd. Data goes to stdout, diagnostics\n"
    "to stderr.";

constexpr char kFooter[] =
    "Global flags may come before or after the command.\n"
    "`eventbus COMMAND --help` describes a command's flags.\n"
    "\n"
    "Exit status: 0 success, 1 health not SERVING, 2 usage error,\n"
    "64 + gRPC status code on an RPC failure, 130 on SIGINT.";

// CLI11's help, laid out as the CLI's help has always been: the usage line
// first, then the description, the flags by group, the commands (by their
// one-line summaries) and the footer.
class HelpFormatter final : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override {
    if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
    std::string help = make_usage(app, name);
    if (!app->get_description().empty()) {
      absl::StrAppend(&help, "\n", app->get_description(), "\n");
    }
    absl::StrAppend(&help, make_positionals(app), FlagGroups(app),
                    make_subcommands(app, mode));
    if (!app->get_footer().empty()) {
      absl::StrAppend(&help, "\n", app->get_footer(), "\n");
    }
    return help;
  }

  std::string make_usage(const CLI::App* app, std::string name) const override {
    if (app->get_parent() == nullptr) {
      return absl::StrCat("Usage: ", name, " [GLOBAL FLAGS] COMMAND [FLAGS]\n");
    }
    std::string usage = absl::StrCat("Usage: ", name, " [FLAGS]");
    for (const CLI::Option* positional :
         app->get_options([](const CLI::Option* option) {
           return option->get_positional();
         })) {
      absl::StrAppend(&usage, " ", make_option_usage(positional));
    }
    return usage + "\n";
  }

  // A command in the list of commands: its name and summary (the first line
  // of its description).
  std::string make_subcommand(const CLI::App* command) const override {
    const std::string& description = command->get_description();
    std::stringstream out;
    CLI::detail::format_help(out, command->get_name(),
                             description.substr(0, description.find('\n')),
                             get_column_width());
    return out.str();
  }

 private:
  // Each group of flags, after one blank line (CLI::Formatter::make_groups
  // puts two between groups).
  std::string FlagGroups(const CLI::App* app) const {
    std::string groups;
    for (const std::string& group : app->get_groups()) {
      std::vector<const CLI::Option*> options =
          app->get_options([&](const CLI::Option* option) {
            return option->get_group() == group && option->nonpositional();
          });
      if (!group.empty() && !options.empty()) {
        absl::StrAppend(&groups, make_group(group, false, options));
      }
    }
    return groups;
  }
};

// The deepest command the command line named so far: `app` itself, or one
// of its subcommands.
const CLI::App& SelectedCommand(const CLI::App& app) {
  const CLI::App* command = &app;
  while (!command->get_subcommands().empty()) {
    command = command->get_subcommands().front();
  }
  return *command;
}

// `eventbus --help`, whichever command was parsed.
std::string TopLevelHelp(const CLI::App& app) {
  return app.get_formatter()->make_help(&app, app.get_name(),
                                        CLI::AppFormatMode::Normal);
}

// The exit status for a parse that ended in `error`, which has been
// reported: 0 after --help and --version (CLI11 prints them to stdout),
// kUsageError for any error (CLI11's own codes, 100 and up, are not ours).
int ParseFailure(const CLI::App& app, const CLI::ParseError& error) {
  // CLI11 calls a word that is no command an unexpected argument; say
  // what it is.
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr &&
      app.get_subcommands().empty()) {
    const std::vector<std::string> extras = app.remaining();
    if (!extras.empty() && !absl::StartsWith(extras.front(), "-")) {
      return ReportUsageError(
          app, absl::StrCat("unknown command \"", extras.front(), "\""));
    }
  }
  return app.exit(error) == 0 ? 0 : kUsageError;
}

// `eventbus help [COMMAND]`: the top-level help, or COMMAND's.
int Help(const CLI::App& app, const CLI::App& help_command,
         const std::string& topic) {
  if (topic.empty()) {
    std::fputs(TopLevelHelp(app).c_str(), stdout);
    return 0;
  }
  const std::vector<const CLI::App*> commands = app.get_subcommands(
      [&](const CLI::App* command) { return command->get_name() == topic; });
  if (!commands.empty()) {
    std::fputs(commands.front()->help(app.get_name()).c_str(), stdout);
    return 0;
  }
  return ReportUsageError(help_command,
                          absl::StrCat("unknown command \"", topic, "\""));
}

int Main(int argc, char** argv) {
  CLI::App app(kDescription, "eventbus");
  // Set before the subcommands are added, which inherit them.
  app.formatter(std::make_shared<HelpFormatter>());
  app.failure_message([](const CLI::App* root, const CLI::Error& error) {
    return absl::StrCat("eventbus: ", error.what(), "\n",
                        HelpHint(SelectedCommand(*root)), "\n");
  });
  // A flag given twice: the last one wins, as it always has.
  app.option_defaults()->take_last();
  app.require_subcommand(0, 1);
  app.footer(kFooter);
  app.set_help_flag("-h,--help",
                    "this text; `eventbus COMMAND --help` for a command's "
                    "flags")
      ->group("Global flags");
  GlobalOptions global_options(&app);
  app.set_version_flag("--version", "eventbus " EVENTBUS_VERSION,
                       "print the version")
      ->group("Global flags");

  PublishCommand publish(&app);
  SubscribeCommand subscribe(&app);
  HealthCommand health(&app);
  SubscribersCommand subscribers(&app);
  InfoCommand info(&app);
  TopCommand top(&app);
  CLI::App* help = app.add_subcommand(
      "help", "this text, or a command's: `eventbus help publish`");
  help->group("Commands");
  help->get_help_ptr()->group("Flags")->description("this text");
  std::string help_topic;
  help->add_option("COMMAND", help_topic, "the command to describe");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return ParseFailure(app, error);
  }
  if (help->parsed()) return Help(app, *help, help_topic);
  Command* command = nullptr;
  Command* const commands[] = {&publish,     &subscribe, &health,
                               &subscribers, &info,      &top};
  for (Command* candidate : commands) {
    if (candidate->parsed()) command = candidate;
  }
  if (command == nullptr) {
    std::fprintf(stderr, "eventbus: no command given\n\n%s",
                 TopLevelHelp(app).c_str());
    return kUsageError;
  }
  absl::StatusOr<Connection> connection = global_options.Connect();
  if (!connection.ok()) {
    return ReportUsageError(app, std::string(connection.status().message()));
  }
  return command->Run(*connection);
}

}  // namespace
}  // namespace eventbus::cli

int main(int argc, char** argv) {
  // SIGINT and SIGTERM go to one thread (sigwait), which interrupts the
  // command; block them before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    eventbus::cli::ProcessInterrupt().Trigger();
  }).detach();
  return eventbus::cli::Main(argc, argv);
}

// The eventbus CLI binary against the real eventbusd.
#include <signal.h>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/child_process.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::ChildProcess;
using ::eventbus::testing::CommandResult;
using ::eventbus::testing::DaemonProcess;
using ::eventbus::testing::RunCommand;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class EventbusCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = DaemonProcess::Start({"--address", "127.0.0.1:0"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
  }
  std::vector<std::string> Argv(std::vector<std::string> args) {
    args.insert(args.begin(),
                {EVENTBUS_CLI_PATH, "--server", daemon_->address()});
    return args;
  }
  CommandResult Run(std::vector<std::string> args, std::string input = "") {
    return RunCommand(Argv(std::move(args)), {.stdin_text = std::move(input)});
  }
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(EventbusCliTest, PublishPrintsTheReceipt) {
  CommandResult r =
      Run({"publish", "--username", "alice", "--operation", "read",
           "--resource-type", "card", "--attr", "team=ml"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_THAT(r.out.substr(0, r.out.size() - 1),
              MatchesRegex(R"(\{"sequence":"1","id":"[0-9a-f-]{36}",)"
                           R"("subscribers":0\})"));
}

TEST_F(EventbusCliTest, PublishJsonLinesFromStdin) {
  CommandResult r = Run(
      {"publish", "--json"},
      R"({"id":"a","audit":{"username":"bob","operation":"OPERATION_DELETE"}})"
      "\n\n"
      R"({"id":"b","spaceName":{"space":"s","name":"n"}})"
      "\n");
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"sequence\":\"1\",\"id\":\"a\",\"subscribers\":0}\n"
            "{\"sequence\":\"2\",\"id\":\"b\",\"subscribers\":0}\n");
}

TEST_F(EventbusCliTest, SubscribePrintsJsonLinesAndStopsAtCount) {
  ASSERT_EQ(Run({"publish", "--count", "3", "--username", "carol"}).exit_status,
            0);
  CommandResult r = Run({"subscribe", "--from-earliest", "--count", "2"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr(R"("sequence":"1")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("audit":{"username":"carol"})"));
  EXPECT_THAT(lines[1], HasSubstr(R"("attributes":{"n":"2"})"));
  EXPECT_THAT(r.err, HasSubstr("subscribed"));
}

TEST_F(EventbusCliTest, SubscribeReportsLagAsItsOwnLine) {
  auto daemon =
      DaemonProcess::Start({"--address", "127.0.0.1:0", "--capacity", "2"});
  ASSERT_TRUE(daemon.ok());
  daemon_ = std::move(*daemon);
  ASSERT_EQ(Run({"publish", "--count", "5"}).exit_status, 0);
  CommandResult r = Run({"subscribe", "--from-sequence", "1", "--count", "2"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(
      lines[0],
      R"({"lagged":{"missed":"3","firstSequence":"1","lastSequence":"3"}})");
  EXPECT_THAT(lines[1], HasSubstr(R"("sequence":"4")"));
}

TEST_F(EventbusCliTest, SubscribeSendsTheOverflowPolicy) {
  auto daemon = DaemonProcess::Start(
      {"--address", "127.0.0.1:0", "--log-level", "debug"});
  ASSERT_TRUE(daemon.ok());
  daemon_ = std::move(*daemon);
  ASSERT_EQ(Run({"publish", "--count", "1"}).exit_status, 0);
  for (const char* policy : {"block", "disconnect", "drop-oldest"}) {
    CommandResult r = Run({"subscribe", "--from-earliest", "--count", "1",
                           "--name", policy, "--overflow", policy});
    EXPECT_EQ(r.exit_status, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr(R"("sequence":"1")"));
    EXPECT_TRUE(daemon_->AwaitLog(
        absl::StrCat("starts at sequence 1, overflow ", policy),
        absl::Seconds(20)))
        << daemon_->Log();
  }
  CommandResult bad = Run({"subscribe", "--overflow", "wait"});
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_THAT(bad.err, HasSubstr("--overflow: unknown overflow policy"));
}

TEST_F(EventbusCliTest, SubscribeFiltersWithAnExpression) {
  ASSERT_EQ(Run({"publish", "--count", "4"}).exit_status, 0);
  CommandResult r = Run({"subscribe", "--from-earliest", "--count", "2",
                         "--filter", R"(attributes.n in ["2", "4"])"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr(R"("sequence":"2")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("sequence":"4")"));
  // The daemon's INVALID_ARGUMENT (3) is the exit status 64 + 3, at once.
  CommandResult bad = Run({"subscribe", "--filter", "attributes.n =="});
  EXPECT_EQ(bad.exit_status, 67) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("filter.expression: column 16: expected a "
                                 "path, a literal or \"(\", got the end of "
                                 "the expression"));
}

TEST_F(EventbusCliTest, PublishSetsThePriority) {
  ASSERT_EQ(Run({"publish", "--username", "bob"}).exit_status, 0);
  ASSERT_EQ(
      Run({"publish", "--priority", "high", "--username", "eve"}).exit_status,
      0);
  CommandResult r = Run({"subscribe", "--from-earliest", "--count", "1",
                         "--filter", R"(priority == "PRIORITY_HIGH")"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(R"("priority":"PRIORITY_HIGH")"));
  EXPECT_THAT(r.out, HasSubstr(R"("username":"eve")"));
  CommandResult bad = Run({"publish", "--priority", "urgent"});
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_THAT(bad.err, HasSubstr("--priority: unknown value \"urgent\"; "
                                 "one of low, normal, high"));
}

TEST_F(EventbusCliTest, SigintExits130) {
  auto child = ChildProcess::Start(Argv({"subscribe"}));
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE((*child)->AwaitStderr("subscribed", absl::Seconds(20)));
  (*child)->Signal(SIGINT);
  EXPECT_EQ((*child)->Wait(absl::Seconds(20)), 130);
}

TEST_F(EventbusCliTest, SubscribersListsEachOpenStream) {
  CommandResult r = Run({"subscribers"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, MatchesRegex("NAME +PEER +OVERFLOW +BEHIND +NEXT +"
                                  "RECEIVED +MISSED +AGE +FILTER\n"));
  auto watcher =
      ChildProcess::Start(Argv({"subscribe", "--name", "cli-watch", "--type",
                                "audit", "--overflow", "block"}));
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE((*watcher)->AwaitStderr("subscribed", absl::Seconds(20)));
  ASSERT_EQ(Run({"publish", "--count", "2"}).exit_status, 0);

  r = Run({"subscribers"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  ASSERT_EQ(lines.size(), 3u) << r.out;  // header, one row, ""
  EXPECT_THAT(lines[1], MatchesRegex("cli-watch +ipv4:127\\.0\\.0\\.1:[0-9]+ +"
                                     "block +[0-9]+ +[0-9]+ +[0-9]+ +0 +"
                                     "[0-9]+m?s +type=audit"));
  r = Run({"subscribers", "--json"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"name\":\"cli-watch\""));
  EXPECT_THAT(r.out, HasSubstr("\"overflow\":\"OVERFLOW_BLOCK\""));
  EXPECT_THAT(r.out, HasSubstr("\"missed\":\"0\""));  // zeros are written
  (*watcher)->Signal(SIGINT);
  EXPECT_EQ((*watcher)->Wait(absl::Seconds(20)), 130);
}

TEST_F(EventbusCliTest, InfoPrintsTheBusTotals) {
  ASSERT_EQ(Run({"publish", "--count", "3"}).exit_status, 0);
  CommandResult r = Run({"info"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("head sequence       3\n"));
  EXPECT_THAT(r.out, HasSubstr("ring                3 of 3072 events\n"));
  EXPECT_THAT(r.out, HasSubstr("published           3\n"));
  r = Run({"info", "--json"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"headSequence\":\"3\""));
  EXPECT_THAT(r.out, HasSubstr("\"missed\":\"0\""));
}

TEST_F(EventbusCliTest, TopPrintsFramesAndChecksItsInterval) {
  CommandResult r = Run({"top", "--iterations", "2", "--interval", "100ms"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  // Not a terminal: two frames one after the other; rates from the second.
  EXPECT_THAT(r.out, MatchesRegex("eventbus top .*\npublish - .*\n\nNAME .*"
                                  "\n\neventbus top .*\npublish 0\\.0/s .*"
                                  "\n\nNAME .*\n"));
  r = Run({"top", "--interval", "10ms"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("--interval: expected a duration of at least"));
}

TEST_F(EventbusCliTest, HealthExitStatusMatches) {
  CommandResult r = Run({"health"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.out, "SERVING\n");
  r = Run({"health", "--service", "eventbus.v1.EventBusService"});
  EXPECT_EQ(r.exit_status, 0);
  r = Run({"health", "--service", "no.such.Service"});
  EXPECT_EQ(r.exit_status, 64 + 5);  // NOT_FOUND
}

TEST_F(EventbusCliTest, RpcFailureExitsSixtyFourPlusCode) {
  CommandResult r =
      RunCommand({EVENTBUS_CLI_PATH, "--server", "127.0.0.1:1", "publish"});
  EXPECT_EQ(r.exit_status, 64 + 14);  // UNAVAILABLE
  EXPECT_THAT(r.err, HasSubstr("publish failed: UNAVAILABLE"));
  r = RunCommand({EVENTBUS_CLI_PATH, "--server", "127.0.0.1:1", "health"});
  EXPECT_EQ(r.exit_status, 64 + 14);
}

TEST_F(EventbusCliTest, ServerFallsBackToTheEnvironment) {
  CommandResult r =
      RunCommand({EVENTBUS_CLI_PATH, "health"},
                 {.env = {"EVENTBUS_SERVER=" + daemon_->address()}});
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

TEST_F(EventbusCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({"publish", "--operation", "bogus"}).exit_status, 2);
  EXPECT_EQ(Run({"subscribe", "--nope"}).exit_status, 2);
  EXPECT_EQ(Run({"frobnicate"}).exit_status, 2);
  EXPECT_EQ(RunCommand({EVENTBUS_CLI_PATH}).exit_status, 2);
  CommandResult r = Run({"publish", "--json"}, "{not json}\n");
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("stdin line 1"));
}

TEST_F(EventbusCliTest, EveryCommandHasHelp) {
  for (const char* command :
       {"publish", "subscribe", "health", "subscribers", "info", "top"}) {
    CommandResult r = RunCommand({EVENTBUS_CLI_PATH, command, "--help"});
    EXPECT_EQ(r.exit_status, 0) << command;
    EXPECT_THAT(r.out, HasSubstr(std::string("Usage: eventbus ") + command));
  }
  CommandResult r = RunCommand({EVENTBUS_CLI_PATH, "--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.out, HasSubstr("EVENTBUS_SERVER"));
}

TEST_F(EventbusCliTest, GlobalFlagsMayFollowTheCommand) {
  CommandResult r = RunCommand({EVENTBUS_CLI_PATH, "publish", "--username",
                                "dave", "--server", daemon_->address()});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  // The flag after the command wins over $EVENTBUS_SERVER, as before it.
  r = RunCommand({EVENTBUS_CLI_PATH, "subscribe", "--from-earliest", "--server",
                  daemon_->address(), "--count", "1"},
                 {.env = {"EVENTBUS_SERVER=127.0.0.1:1"}});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr(R"("audit":{"username":"dave"})"));
  r = RunCommand({EVENTBUS_CLI_PATH, "health", "--timeout", "5s", "--server",
                  daemon_->address()});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
}

TEST_F(EventbusCliTest, UnknownFlagExitsTwo) {
  CommandResult r = Run({"publish", "--no-such-flag"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("--no-such-flag"));
  r = RunCommand({EVENTBUS_CLI_PATH, "--no-such-flag", "--server",
                  daemon_->address(), "publish"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("--no-such-flag"));
  // Neither published anything.
  r = Run({"publish"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(R"("sequence":"1")"));
}

TEST_F(EventbusCliTest, PublishHelpListsItsFlags) {
  CommandResult r = RunCommand({EVENTBUS_CLI_PATH, "publish", "--help"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("Usage: eventbus publish"));
  for (const char* flag : {"--json", "--type", "--attr", "--count", "--rate",
                           "--username", "--operation", "--space"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  // `eventbus help publish` says the same.
  CommandResult help = RunCommand({EVENTBUS_CLI_PATH, "help", "publish"});
  EXPECT_EQ(help.exit_status, 0) << help.err;
  EXPECT_EQ(help.out, r.out);
}

TEST_F(EventbusCliTest, VersionGoesToStdout) {
  CommandResult r = RunCommand({EVENTBUS_CLI_PATH, "--version"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("eventbus "));
}

// The CLI against a daemon that requires a token or TLS.
class EventbusCliSecurityTest : public ::testing::Test {
 protected:
  std::string TempPath(const std::string& name) { return dir_.Path(name); }
  std::string WriteTemp(const std::string& name, const std::string& text) {
    return dir_.WriteFile(name, text);
  }

  // Removed with everything in it when the test ends.
  const testing::TempDir dir_{"eventbus-cli-test"};
};

TEST_F(EventbusCliSecurityTest, SendsTheTokenFromTheEnvironmentOrAFile) {
  const std::string token = "cli-test-token-5d8a61f0c2";
  auto daemon = DaemonProcess::Start(
      {"--address", "127.0.0.1:0", "--auth-tokens-file",
       WriteTemp("tokens", token + " publish,subscribe cli\n")});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::vector<std::string> publish = {EVENTBUS_CLI_PATH, "--server",
                                            (*daemon)->address(), "publish"};
  CommandResult r = RunCommand(publish);
  EXPECT_EQ(r.exit_status, 64 + 16) << r.err;  // UNAUTHENTICATED
  r = RunCommand(publish, {.env = {"EVENTBUS_TOKEN=" + token}});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  std::vector<std::string> with_file = publish;
  with_file.insert(with_file.begin() + 1,
                   {"--token-file", WriteTemp("token", token + "\n")});
  r = RunCommand(with_file);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"sequence\":\"2\""));
  with_file[2] = TempPath("missing");
  r = RunCommand(with_file);
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("--token-file: cannot read"));
}

TEST_F(EventbusCliSecurityTest, AdminCommandsNeedTheAdminGrant) {
  const std::string user = "cli-user-token-5d8a61f0c2";
  const std::string admin = "cli-admin-token-5d8a61f0c2";
  auto daemon = DaemonProcess::Start(
      {"--address", "127.0.0.1:0", "--auth-tokens-file",
       WriteTemp("tokens",
                 user + " publish,subscribe user\n" + admin + " admin ops\n")});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  for (const char* command : {"subscribers", "info", "top"}) {
    const std::vector<std::string> argv = {EVENTBUS_CLI_PATH,    "--server",
                                           (*daemon)->address(), command,
                                           "--iterations",       "1"};
    const std::vector<std::string> args =
        std::string(command) == "top"
            ? argv
            : std::vector<std::string>(argv.begin(), argv.end() - 2);
    CommandResult r = RunCommand(args, {.env = {"EVENTBUS_TOKEN=" + user}});
    EXPECT_EQ(r.exit_status, 64 + 7) << command << r.err;  // PERMISSION_DENIED
    EXPECT_THAT(r.err, HasSubstr("token user may not administer"));
    r = RunCommand(args, {.env = {"EVENTBUS_TOKEN=" + admin}});
    EXPECT_EQ(r.exit_status, 0) << command << r.err;
  }
}

TEST_F(EventbusCliSecurityTest, TalksTlsTrustingTheCaFile) {
  const std::string cert = TempPath("server.pem");
  const std::string key = TempPath("server.key");
  CommandResult made = RunCommand(
      {"/usr/bin/env", "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
       "-days", "1", "-subj", "/CN=localhost", "-addext",
       "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  ASSERT_EQ(made.exit_status, 0) << made.err;
  auto daemon =
      DaemonProcess::Start({"--address", "127.0.0.1:0", "--tls-cert-file", cert,
                            "--tls-key-file", key});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::string server = (*daemon)->address();
  CommandResult r = RunCommand(
      {EVENTBUS_CLI_PATH, "--server", server, "--ca-file", cert, "publish"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  r = RunCommand({EVENTBUS_CLI_PATH, "--server", server, "health"},
                 {.env = {"EVENTBUS_CA_FILE=" + cert}});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  // Plaintext, or TLS without trusting the certificate, cannot connect.
  r = RunCommand({EVENTBUS_CLI_PATH, "--server", server, "health"});
  EXPECT_EQ(r.exit_status, 64 + 14) << r.err;  // UNAVAILABLE
  r = RunCommand({EVENTBUS_CLI_PATH, "--server", server, "--tls", "health"});
  EXPECT_EQ(r.exit_status, 64 + 14) << r.err;
  r = RunCommand(
      {EVENTBUS_CLI_PATH, "--server", server, "--cert-file", cert, "health"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("needs its key"));
}

}  // namespace
}  // namespace eventbus

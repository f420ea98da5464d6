#include "client/cli/global_options.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/channel.h"

namespace eventbus::cli {
namespace {

constexpr char kGroup[] = "Global flags";

}  // namespace

GlobalOptions::GlobalOptions(CLI::App* app) {
  app->add_option("--server", server_,
                  "host:port or unix:PATH of eventbusd;\n"
                  "default 127.0.0.1:50051")
      ->type_name("ADDR")
      ->envname("EVENTBUS_SERVER")
      ->group(kGroup);
  timeout_option_ =
      app->add_option("--timeout", timeout_,
                      "deadline of each unary RPC, such as 5s or 500ms\n"
                      "(default 5s)")
          ->type_name("DUR")
          ->group(kGroup);
  app->add_flag("--tls", tls_, "use TLS, trusting the system's CAs")
      ->group(kGroup);
  app->add_option("--ca-file", ca_file_,
                  "use TLS, trusting the CAs in FILE (PEM)")
      ->type_name("FILE")
      ->envname("EVENTBUS_CA_FILE")
      ->group(kGroup);
  app->add_option("--cert-file", cert_file_,
                  "mTLS: this client's certificate (PEM),\n"
                  "with --key-file")
      ->type_name("FILE")
      ->envname("EVENTBUS_CERT_FILE")
      ->group(kGroup);
  app->add_option("--key-file", key_file_,
                  "mTLS: the private key of --cert-file (PEM)")
      ->type_name("FILE")
      ->envname("EVENTBUS_KEY_FILE")
      ->group(kGroup);
  token_file_option_ =
      app->add_option("--token-file", token_file_,
                      "send the bearer token in FILE (its first line)\n"
                      "on every call; default: the token in\n"
                      "$EVENTBUS_TOKEN, if set (no flag takes a token:\n"
                      "command lines are visible to others)")
          ->type_name("FILE")
          ->group(kGroup);
}

absl::StatusOr<absl::Duration> GlobalOptions::Timeout() const {
  absl::Duration timeout = absl::Seconds(5);
  if (timeout_option_->count() > 0 &&
      (!absl::ParseDuration(timeout_, &timeout) ||
       timeout <= absl::ZeroDuration())) {
    return absl::InvalidArgumentError(
        "--timeout: expected a duration such as 5s or 500ms");
  }
  return timeout;
}

absl::StatusOr<std::string> GlobalOptions::Token() const {
  if (token_file_option_->count() == 0) {
    const char* token = std::getenv("EVENTBUS_TOKEN");
    return token == nullptr ? ""
                            : std::string(absl::StripAsciiWhitespace(token));
  }
  std::ifstream file(token_file_);
  std::string token;
  if (!std::getline(file, token)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file: cannot read ", token_file_));
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file: ", token_file_, " holds no token"));
  }
  return token;
}

absl::StatusOr<Connection> GlobalOptions::Connect() const {
  absl::StatusOr<absl::Duration> timeout = Timeout();
  if (!timeout.ok()) return timeout.status();
  absl::StatusOr<std::string> token = Token();
  if (!token.ok()) return token.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      client::CreateChannel({.server = server_,
                             .token = *std::move(token),
                             .tls = tls_,
                             .ca_file = ca_file_,
                             .cert_file = cert_file_,
                             .key_file = key_file_});
  if (!channel.ok()) return channel.status();
  return Connection{.channel = *std::move(channel), .timeout = *timeout};
}

}  // namespace eventbus::cli

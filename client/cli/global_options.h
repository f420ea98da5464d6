// GlobalOptions: the flags every command shares (the server, the RPC
// deadline, TLS files and the bearer token), declared on the top-level
// CLI::App with their environment fallbacks, and the connection they
// describe.
//
//   --server ADDR      $EVENTBUS_SERVER, else 127.0.0.1:50051
//   --timeout DUR      5s
//   --tls
//   --ca-file FILE     $EVENTBUS_CA_FILE
//   --cert-file FILE   $EVENTBUS_CERT_FILE
//   --key-file FILE    $EVENTBUS_KEY_FILE
//   --token-file FILE  else the token in $EVENTBUS_TOKEN
#ifndef EVENTBUS_CLIENT_CLI_GLOBAL_OPTIONS_H_
#define EVENTBUS_CLIENT_CLI_GLOBAL_OPTIONS_H_

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace eventbus::cli {

inline constexpr char kDefaultServer[] = "127.0.0.1:50051";

// A channel to eventbusd and the deadline of each unary RPC.
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  absl::Duration timeout;
};

class GlobalOptions {
 public:
  // Declares the flags on `app`, which must be the top-level app; `this`
  // must outlive its parsing.
  explicit GlobalOptions(CLI::App* app);
  GlobalOptions(const GlobalOptions&) = delete;
  GlobalOptions& operator=(const GlobalOptions&) = delete;

  // After parsing: the channel and deadline the flags ask for.
  // InvalidArgument, with a message naming the flag, for a bad --timeout,
  // an unreadable or empty --token-file, a certificate without its key or
  // an unreadable TLS file.
  absl::StatusOr<Connection> Connect() const;

 private:
  absl::StatusOr<absl::Duration> Timeout() const;
  // The bearer token: --token-file's first line, else $EVENTBUS_TOKEN, else
  // "" (none).
  absl::StatusOr<std::string> Token() const;

  std::string server_ = kDefaultServer;
  std::string timeout_;
  bool tls_ = false;
  std::string ca_file_;
  std::string cert_file_;
  std::string key_file_;
  std::string token_file_;
  CLI::Option* timeout_option_ = nullptr;
  CLI::Option* token_file_option_ = nullptr;
};

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_GLOBAL_OPTIONS_H_

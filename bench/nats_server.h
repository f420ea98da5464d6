// NatsServer: a nats-server -js child process on a free loopback port, for
// the forwarding workloads (W5F, W2F). Its store and its log (stdout and
// stderr) live under a directory the caller owns; Start returns once it
// logged "Server is ready". The destructor stops it: SIGTERM, then SIGKILL
// when it has not exited after 10 s.
#ifndef EVENTBUS_BENCH_NATS_SERVER_H_
#define EVENTBUS_BENCH_NATS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace eventbus::bench {

class NatsServer {
 public:
  // Runs `binary` (Debian's /usr/sbin/nats-server) with JetStream, its
  // store in `dir`/store and its log in `dir`/nats-server.log. Errors:
  // Internal when it cannot be started, Unavailable when it is not ready
  // within 20 s (the message carries its log).
  static absl::StatusOr<std::unique_ptr<NatsServer>> Start(
      const std::string& binary, const std::string& dir);

  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  pid_t pid() const { return pid_; }
  // "nats://127.0.0.1:PORT".
  const std::string& url() const { return url_; }

 private:
  NatsServer(pid_t pid, std::string url) : pid_(pid), url_(std::move(url)) {}

  const pid_t pid_;
  const std::string url_;
};

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_NATS_SERVER_H_

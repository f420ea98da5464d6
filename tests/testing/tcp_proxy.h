// TcpProxy: forwards loopback TCP connections to a target, and can cut them
// all at once, as a network fault would, while the target keeps running.
#ifndef EVENTBUS_TESTS_TESTING_TCP_PROXY_H_
#define EVENTBUS_TESTS_TESTING_TCP_PROXY_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"

namespace eventbus::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1:0 and forwards to `target_port` on 127.0.0.1.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int target_port);
  ~TcpProxy();

  // "127.0.0.1:PORT" to connect to.
  std::string address() const;
  // Closes every forwarded connection; new ones are still accepted.
  void CutConnections() ABSL_LOCKS_EXCLUDED(mu_);
  // While refusing, new connections are closed as soon as they arrive (the
  // target unreachable), so a client stays disconnected until it is not.
  void SetRefusing(bool refusing) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  TcpProxy(int listener, int port, int target_port)
      : listener_(listener), port_(port), target_port_(target_port) {}
  void Accept();
  static void Pump(int a, int b);

  const int listener_;
  const int port_;
  const int target_port_;
  Mutex mu_;
  std::vector<int> sockets_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
  bool refusing_ ABSL_GUARDED_BY(mu_) = false;
  std::thread acceptor_;
};

}  // namespace eventbus::testing

#endif  // EVENTBUS_TESTS_TESTING_TCP_PROXY_H_

// The sd_notify protocol: NotifySocket against a datagram socket the test
// binds (a path and an abstract name), and the real eventbusd reporting
// READY=1 once it serves and STOPPING=1 when SIGTERM starts the drain.
#include "server/daemon/systemd_notify.h"

#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/child_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::ChildProcess;
using ::eventbus::testing::StatusIs;
using ::eventbus::testing::TempDir;
using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(20);

// A unix datagram socket bound to a fresh name: a path in a temporary
// directory of its own (removed with it), or an abstract name ("@...").
class NotifyReceiver {
 public:
  explicit NotifyReceiver(bool abstract) {
    static int counter = 0;
    if (abstract) {
      name_ = "@eventbus-notify-test." + std::to_string(getpid()) + "." +
              std::to_string(++counter);
    } else {
      dir_ = std::make_unique<TempDir>("eventbus-notify");
      name_ = dir_->Path("notify");
    }
    sockaddr_un address{};
    if (name_.size() >= sizeof(address.sun_path)) return;  // not bound
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    if (abstract) address.sun_path[0] = '\0';
    const socklen_t length = static_cast<socklen_t>(
        offsetof(sockaddr_un, sun_path) + name_.size() + (abstract ? 0 : 1));
    bound_ = fd_ >= 0 &&
             bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0;
  }
  ~NotifyReceiver() {
    if (fd_ >= 0) close(fd_);
  }

  bool bound() const { return bound_; }
  // What NOTIFY_SOCKET would hold.
  const std::string& name() const { return name_; }

  // The next datagram, or nullopt when none arrived within `timeout`.
  std::optional<std::string> Receive(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      const int64_t wait_ms =
          absl::ToInt64Milliseconds(deadline - absl::Now()) + 1;
      if (wait_ms <= 0) return std::nullopt;
      pollfd ready{.fd = fd_, .events = POLLIN, .revents = 0};
      const int n = poll(&ready, 1, static_cast<int>(wait_ms));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      char buffer[4096];
      const ssize_t size = recv(fd_, buffer, sizeof(buffer), 0);
      if (size < 0) return std::nullopt;
      return std::string(buffer, size);
    }
  }

 private:
  std::unique_ptr<TempDir> dir_;  // for a path; null for an abstract name
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

std::vector<std::string> Lines(const std::string& datagram) {
  return absl::StrSplit(datagram, '\n');
}

TEST(NotifySocketTest, SendsOneDatagramToAPath) {
  NotifyReceiver receiver(/*abstract=*/false);
  ASSERT_TRUE(receiver.bound());
  ASSERT_TRUE(NotifySocket(receiver.name(), "READY=1\nSTATUS=serving").ok());
  EXPECT_EQ(receiver.Receive(kDeadline), "READY=1\nSTATUS=serving");
}

TEST(NotifySocketTest, SendsToAnAbstractName) {
  NotifyReceiver receiver(/*abstract=*/true);
  ASSERT_TRUE(receiver.bound());
  ASSERT_TRUE(NotifySocket(receiver.name(), "STOPPING=1").ok());
  EXPECT_EQ(receiver.Receive(kDeadline), "STOPPING=1");
}

TEST(NotifySocketTest, RefusesWhatIsNotASocketAddress) {
  const std::vector<std::string> names = {"", "relative/notify", "notify", "@",
                                          "/" + std::string(200, 'x')};
  for (const std::string& name : names) {
    absl::Status status = NotifySocket(name, "READY=1");
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument))
        << "\"" << name << "\"";
  }
}

TEST(NotifySocketTest, NoSuchSocketIsUnavailable) {
  const TempDir dir("eventbus-notify");
  const std::string missing = dir.Path("no-such-notify-socket");
  absl::Status status = NotifySocket(missing, "READY=1");
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(missing)));
  status = NotifySocket("@eventbus-notify-test.nobody-listens", "READY=1");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(NotifyServiceManagerTest, SendsToNotifySocketWhenSet) {
  NotifyReceiver receiver(/*abstract=*/true);
  ASSERT_TRUE(receiver.bound());
  setenv("NOTIFY_SOCKET", receiver.name().c_str(), 1);
  absl::Status status = NotifyServiceManager("READY=1");
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(receiver.Receive(kDeadline), "READY=1");
}

TEST(NotifyServiceManagerTest, DoesNothingWithoutNotifySocket) {
  NotifyReceiver receiver(/*abstract=*/false);
  ASSERT_TRUE(receiver.bound());
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(NotifyServiceManager("READY=1").ok());
  setenv("NOTIFY_SOCKET", "", 1);
  EXPECT_TRUE(NotifyServiceManager("READY=1").ok());
  unsetenv("NOTIFY_SOCKET");
  // Datagrams arrive in order: the marker is first only if nothing came
  // before it.
  ASSERT_TRUE(NotifySocket(receiver.name(), "MARKER=1").ok());
  EXPECT_EQ(receiver.Receive(kDeadline), "MARKER=1");
}

// The real eventbusd with NOTIFY_SOCKET set, as systemd runs it.
class EventbusdNotifyTest : public ::testing::Test {
 protected:
  void StartDaemon(const std::string& notify_socket) {
    ChildProcess::Options options;
    options.env = {"NOTIFY_SOCKET=" + notify_socket};
    auto process = ChildProcess::Start(
        {EVENTBUSD_PATH, "--address", "127.0.0.1:0"}, std::move(options));
    ASSERT_TRUE(process.ok()) << process.status();
    daemon_ = std::move(*process);
  }

  // The address from the start-up line, which eventbusd logs before it
  // notifies.
  std::string Address() {
    constexpr char kListeningOn[] = "listening on ";
    EXPECT_TRUE(daemon_->AwaitStderr(kListeningOn, kDeadline));
    EXPECT_TRUE(daemon_->AwaitStderr(")\n", kDeadline));
    const std::string log = daemon_->Stderr();
    const size_t begin = log.find(kListeningOn) + sizeof(kListeningOn) - 1;
    return log.substr(begin, log.find(' ', begin) - begin);
  }

  HealthCheckResponse::ServingStatus Health(const std::string& address) {
    auto health = Health::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    HealthCheckResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
    grpc::Status status =
        health->Check(&context, HealthCheckRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  std::unique_ptr<ChildProcess> daemon_;
};

// Parameter: whether NOTIFY_SOCKET is an abstract name.
class EventbusdNotifySocketTest : public EventbusdNotifyTest,
                                  public ::testing::WithParamInterface<bool> {};

TEST_P(EventbusdNotifySocketTest, ReadyOnceServingThenStoppingOnSigterm) {
  NotifyReceiver receiver(/*abstract=*/GetParam());
  ASSERT_TRUE(receiver.bound());
  StartDaemon(receiver.name());

  std::optional<std::string> ready = receiver.Receive(kDeadline);
  ASSERT_TRUE(ready.has_value()) << "no READY=1; log:\n" << daemon_->Stderr();
  EXPECT_THAT(Lines(*ready), Contains("READY=1"));
  // READY=1 promises clients can connect: the health check answers at once.
  const std::string address = Address();
  EXPECT_THAT(*ready, HasSubstr("STATUS=serving on " + address));
  EXPECT_EQ(Health(address), HealthCheckResponse::SERVING);

  daemon_->Signal(SIGTERM);
  std::optional<std::string> stopping = receiver.Receive(kDeadline);
  ASSERT_TRUE(stopping.has_value()) << "no STOPPING=1; log:\n"
                                    << daemon_->Stderr();
  EXPECT_THAT(Lines(*stopping), Contains("STOPPING=1"));
  EXPECT_EQ(daemon_->Wait(kDeadline), 0) << daemon_->Stderr();
  // Nothing after STOPPING=1: the next datagram is the test's own.
  ASSERT_TRUE(NotifySocket(receiver.name(), "MARKER=1").ok());
  EXPECT_EQ(receiver.Receive(kDeadline), "MARKER=1");
}

INSTANTIATE_TEST_SUITE_P(PathAndAbstract, EventbusdNotifySocketTest,
                         ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Abstract" : "Path";
                         });

TEST_F(EventbusdNotifyTest, ServesWhenTheNotifySocketIsMissing) {
  const TempDir dir("eventbus-notify");
  StartDaemon(dir.Path("no-such-notify-socket"));
  ASSERT_TRUE(
      daemon_->AwaitStderr("cannot notify the service manager", kDeadline))
      << daemon_->Stderr();
  EXPECT_EQ(Health(Address()), HealthCheckResponse::SERVING);
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(kDeadline), 0) << daemon_->Stderr();
}

}  // namespace
}  // namespace eventbus

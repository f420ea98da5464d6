// Publisher against the real eventbusd.
#include "client/publisher.h"

#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/grpc_clients.h"
#include "tests/testing/status_matchers.h"

namespace eventbus::client {
namespace {

using ::eventbus::testing::DaemonProcess;
using ::eventbus::testing::FullAuditEvent;
using ::eventbus::testing::StatusIs;

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// A TCP port that accepts connections and never answers: RPCs to it wait
// for their deadline.
class SilentPort {
 public:
  SilentPort() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), length);
    listen(fd_, 16);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentPort() { close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int port_ = 0;
};

// The outcomes PublishAsync reports, in order: a sequence or the error.
class Outcomes {
 public:
  Publisher::Callback Recorder() {
    return [this](absl::StatusOr<PublishReceipt> r) {
      MutexLock lock(&mu_);
      outcomes_.push_back(r.ok() ? absl::StatusOr<uint64_t>(r->sequence)
                                 : absl::StatusOr<uint64_t>(r.status()));
    };
  }
  std::vector<absl::StatusOr<uint64_t>> Get() {
    MutexLock lock(&mu_);
    return outcomes_;
  }

 private:
  Mutex mu_;
  std::vector<absl::StatusOr<uint64_t>> outcomes_ ABSL_GUARDED_BY(mu_);
};

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = DaemonProcess::Start({"--address", "127.0.0.1:0"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
  }
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(PublisherTest, PublishReturnsTheReceipt) {
  auto publisher = *Publisher::Create(Channel(daemon_->address()));
  auto receipt = publisher->Publish(FullAuditEvent());
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->sequence, 1u);
  EXPECT_EQ(receipt->id, "audit-1");
  EXPECT_EQ(receipt->subscribers, 0u);
}

TEST_F(PublisherTest, ErrorsKeepTheGrpcCodeAndMessage) {
  auto publisher = *Publisher::Create(Channel(daemon_->address()));
  EXPECT_EQ(publisher->Publish(v1::Event()).status(),
            absl::InvalidArgumentError("event has no payload: set exactly one "
                                       "of `audit` or `space_name`"));
}

TEST_F(PublisherTest, DeadlineIsHonoured) {
  SilentPort silent;
  auto publisher = *Publisher::Create(Channel(silent.address()),
                                      {.timeout = absl::Milliseconds(200)});
  const absl::Time start = absl::Now();
  EXPECT_THAT(publisher->Publish(FullAuditEvent()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(PublisherTest, AsyncPublishesInOrderAndReportsEach) {
  auto publisher = *Publisher::Create(Channel(daemon_->address()));
  Mutex mu;
  std::vector<uint64_t> sequences;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(publisher
                    ->PublishAsync(FullAuditEvent(),
                                   [&](absl::StatusOr<PublishReceipt> r) {
                                     ASSERT_TRUE(r.ok()) << r.status();
                                     MutexLock lock(&mu);
                                     sequences.push_back(r->sequence);
                                   })
                    .ok());
  }
  ASSERT_TRUE(publisher->Flush(absl::Now() + absl::Seconds(20)));
  MutexLock lock(&mu);
  ASSERT_EQ(sequences.size(), 50u);
  for (size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], i + 1);
}

TEST_F(PublisherTest, AsyncRejectedEventFailsAloneAndTheRestArePublished) {
  auto publisher = *Publisher::Create(Channel(daemon_->address()));
  Outcomes outcomes;
  const Publisher::Callback record = outcomes.Recorder();
  ASSERT_TRUE(publisher->PublishAsync(FullAuditEvent(), record).ok());
  ASSERT_TRUE(publisher->PublishAsync(v1::Event(), record).ok());  // no payload
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(publisher->PublishAsync(FullAuditEvent(), record).ok());
  }
  ASSERT_TRUE(publisher->Flush(absl::Now() + absl::Seconds(20)));
  const std::vector<absl::StatusOr<uint64_t>> seen = outcomes.Get();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0], absl::StatusOr<uint64_t>(1));
  EXPECT_THAT(seen[1], StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(seen[2], absl::StatusOr<uint64_t>(2));
  EXPECT_EQ(seen[3], absl::StatusOr<uint64_t>(3));
  EXPECT_EQ(seen[4], absl::StatusOr<uint64_t>(4));
}

// An event the daemon could not parse (a string that is not UTF-8, which
// protobuf encodes anyway) is refused by PublishAsync at once, so that it
// cannot fail the events batched with it; the rest are published. (The
// daemon's own refusal of such a request: publish_stream_call_test.)
TEST_F(PublisherTest, AsyncEventThatCannotParseIsRefusedAtOnce) {
  auto publisher = *Publisher::Create(Channel(daemon_->address()));
  Outcomes outcomes;
  const Publisher::Callback record = outcomes.Recorder();
  v1::Event bad = FullAuditEvent();
  (*bad.mutable_attributes())["k"] = "bad \xff value";
  ASSERT_TRUE(publisher->PublishAsync(FullAuditEvent(), record).ok());
  EXPECT_THAT(publisher->PublishAsync(bad, record),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "event.attributes.value is not valid UTF-8"));
  bad = FullAuditEvent();
  bad.mutable_audit()->set_username("\xc3(");
  EXPECT_THAT(publisher->PublishAsync(bad, record),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "event.audit.username is not valid UTF-8"));
  ASSERT_TRUE(publisher->PublishAsync(FullAuditEvent(), record).ok());
  ASSERT_TRUE(publisher->Flush(absl::Now() + absl::Seconds(20)));
  EXPECT_EQ(outcomes.Get(), (std::vector<absl::StatusOr<uint64_t>>{1, 2}));
}

TEST_F(PublisherTest, FullQueueIsRefusedAtOnceAndShutdownReportsTheRest) {
  SilentPort silent;
  auto publisher =
      *Publisher::Create(Channel(silent.address()),
                         {.timeout = absl::Seconds(2), .queue_capacity = 2});
  Mutex mu;
  std::vector<absl::StatusCode> outcomes;
  auto record = [&](absl::StatusOr<PublishReceipt> r) {
    MutexLock lock(&mu);
    outcomes.push_back(r.status().code());
  };
  // The first is taken by the publisher's thread and hangs until its
  // deadline; two more fill the queue; the fourth is refused.
  ASSERT_TRUE(publisher->PublishAsync(FullAuditEvent(), record).ok());
  EXPECT_FALSE(publisher->Flush(absl::Now() + absl::Milliseconds(100)));
  ASSERT_TRUE(publisher->PublishAsync(FullAuditEvent(), record).ok());
  ASSERT_TRUE(publisher->PublishAsync(FullAuditEvent(), record).ok());
  EXPECT_THAT(publisher->PublishAsync(FullAuditEvent(), record),
              StatusIs(absl::StatusCode::kResourceExhausted));
  publisher.reset();
  MutexLock lock(&mu);
  EXPECT_EQ(outcomes,
            (std::vector<absl::StatusCode>{absl::StatusCode::kDeadlineExceeded,
                                           absl::StatusCode::kCancelled,
                                           absl::StatusCode::kCancelled}));
}

}  // namespace
}  // namespace eventbus::client

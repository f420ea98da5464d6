// Subscriber against the real eventbusd: resume across a cut connection and
// a daemon restart, lag delivered as such, bounded backoff, clean shutdown;
// each on a Subscribe stream of its own and as one subscription of a
// SharedStream. Many subscribers sharing one stream.
#include "client/subscriber.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/mutex.h"
#include "client/publisher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/grpc_clients.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tcp_proxy.h"

namespace eventbus::client {
namespace {

using ::eventbus::testing::DaemonProcess;
using ::eventbus::testing::FullAuditEvent;
using ::eventbus::testing::StatusIs;
using Kind = SubscriberNotice::Kind;

// Collects a subscriber's notices; tests wait on them with deadlines.
class Notices {
 public:
  Subscriber::Handler Handler() {
    return [this](SubscriberNotice notice) {
      MutexLock lock(&mu_);
      notices_.push_back(std::move(notice));
      changed_.SignalAll();
    };
  }
  // Waits until `count` notices of `kind` arrived.
  bool Await(Kind kind, size_t count,
             absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (CountLocked(kind) < count) {
      if (!changed_.WaitUntil(deadline)) return false;
    }
    return true;
  }
  std::vector<SubscriberNotice> Of(Kind kind) {
    MutexLock lock(&mu_);
    std::vector<SubscriberNotice> of;
    for (const auto& notice : notices_) {
      if (notice.kind == kind) of.push_back(notice);
    }
    return of;
  }
  std::vector<uint64_t> EventSequences() {
    std::vector<uint64_t> sequences;
    for (const auto& notice : Of(Kind::kEvent)) {
      sequences.push_back(notice.event.sequence());
    }
    return sequences;
  }

 private:
  size_t CountLocked(Kind kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t count = 0;
    for (const auto& notice : notices_) count += notice.kind == kind;
    return count;
  }
  Mutex mu_;
  CondVar changed_{&mu_};
  std::vector<SubscriberNotice> notices_ ABSL_GUARDED_BY(mu_);
};

// Each test runs with a Subscribe stream per subscriber, and again with the
// subscriber as one subscription on a SharedStream (SubscribeStream).
enum class Mode { kOwnStream, kSharedStream };

class SubscriberTest : public ::testing::TestWithParam<Mode> {
 protected:
  absl::StatusOr<std::unique_ptr<Subscriber>> StartSubscriber(
      std::shared_ptr<grpc::Channel> channel, SubscriberOptions options,
      Subscriber::Handler handler = nullptr) {
    if (GetParam() == Mode::kSharedStream) {
      streams_.push_back(SharedStream::Create(channel));
      options.shared_stream = streams_.back();
    }
    return handler ? Subscriber::Start(std::move(channel), std::move(options),
                                       std::move(handler))
                   : Subscriber::Start(std::move(channel), std::move(options));
  }

  void StartDaemon(const std::string& address = "127.0.0.1:0",
                   std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"--address", address});
    auto daemon = DaemonProcess::Start(flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    publisher_ = *Publisher::Create(Channel(daemon_->address()));
  }
  static std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  static SubscriberOptions FastRetry() {
    SubscriberOptions options;
    options.backoff.initial = absl::Milliseconds(20);
    options.backoff.max = absl::Milliseconds(200);
    return options;
  }
  void Publish(int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(publisher_->Publish(FullAuditEvent()).ok());
    }
  }
  int Port() const {
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(
        daemon_->address().substr(daemon_->address().rfind(':') + 1), &port));
    return port;
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<Publisher> publisher_;
  Notices notices_;
  // Outlive the subscribers of a test (its locals).
  std::vector<std::shared_ptr<SharedStream>> streams_;
};

INSTANTIATE_TEST_SUITE_P(Streams, SubscriberTest,
                         ::testing::Values(Mode::kOwnStream,
                                           Mode::kSharedStream),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return info.param == Mode::kOwnStream
                                      ? "OwnStream"
                                      : "SharedStream";
                         });

TEST_P(SubscriberTest, ReceivesEventsInOrder) {
  StartDaemon();
  auto subscriber =
      *StartSubscriber(Channel(daemon_->address()), {}, notices_.Handler());
  ASSERT_TRUE(notices_.Await(Kind::kConnected, 1));
  Publish(3);
  ASSERT_TRUE(notices_.Await(Kind::kEvent, 3));
  EXPECT_EQ(notices_.EventSequences(), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_P(SubscriberTest, ResumesAfterACutConnectionWithoutLoss) {
  StartDaemon();
  auto proxy = *testing::TcpProxy::Start(Port());
  auto subscriber = *StartSubscriber(Channel(proxy->address()), FastRetry(),
                                     notices_.Handler());
  ASSERT_TRUE(notices_.Await(Kind::kConnected, 1));
  Publish(2);
  ASSERT_TRUE(notices_.Await(Kind::kEvent, 2));

  proxy->CutConnections();
  ASSERT_TRUE(notices_.Await(Kind::kDisconnected, 1));
  Publish(3);  // published while the subscriber is away; the ring holds them
  ASSERT_TRUE(notices_.Await(Kind::kEvent, 5));
  EXPECT_EQ(notices_.EventSequences(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(notices_.Of(Kind::kLagged).empty());
  EXPECT_TRUE(notices_.Of(Kind::kInstanceChanged).empty());
  const auto connected = notices_.Of(Kind::kConnected);
  ASSERT_GE(connected.size(), 2u);
  EXPECT_EQ(connected.back().instance, connected.front().instance);
}

TEST_P(SubscriberTest, WhatTheRingNoLongerHoldsArrivesAsLagged) {
  StartDaemon("127.0.0.1:0", {"--capacity", "4"});
  auto proxy = *testing::TcpProxy::Start(Port());
  auto subscriber = *StartSubscriber(Channel(proxy->address()), FastRetry(),
                                     notices_.Handler());
  ASSERT_TRUE(notices_.Await(Kind::kConnected, 1));
  Publish(1);
  ASSERT_TRUE(notices_.Await(Kind::kEvent, 1));
  // Disconnected until the ring has moved past what the subscriber saw.
  proxy->SetRefusing(true);
  proxy->CutConnections();
  ASSERT_TRUE(notices_.Await(Kind::kDisconnected, 1));
  Publish(10);  // 2..11; the ring keeps 8..11
  proxy->SetRefusing(false);
  ASSERT_TRUE(notices_.Await(Kind::kEvent, 5));
  const auto lagged = notices_.Of(Kind::kLagged);
  ASSERT_EQ(lagged.size(), 1u);
  EXPECT_EQ(lagged[0].lagged.first_sequence(), 2u);
  EXPECT_EQ(lagged[0].lagged.last_sequence(), 7u);
  EXPECT_EQ(lagged[0].lagged.missed(), 6u);
  EXPECT_EQ(notices_.EventSequences(),
            (std::vector<uint64_t>{1, 8, 9, 10, 11}));
}

TEST_P(SubscriberTest, DaemonRestartIsReportedAndReadFromTheStart) {
  StartDaemon();
  const std::string address = daemon_->address();
  auto subscriber =
      *StartSubscriber(Channel(address), FastRetry(), notices_.Handler());
  ASSERT_TRUE(notices_.Await(Kind::kConnected, 1));
  Publish(3);
  ASSERT_TRUE(notices_.Await(Kind::kEvent, 3));

  daemon_->Signal(SIGKILL);
  ASSERT_TRUE(daemon_->Wait(absl::Seconds(10)).has_value());
  ASSERT_TRUE(notices_.Await(Kind::kDisconnected, 1));
  StartDaemon(address);  // same address, new instance, numbering from 1
  Publish(2);
  ASSERT_TRUE(notices_.Await(Kind::kEvent, 5));

  const auto changed = notices_.Of(Kind::kInstanceChanged);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_NE(changed[0].instance, changed[0].previous_instance);
  EXPECT_EQ(changed[0].sequence, 4u);  // the old instance's next sequence
  EXPECT_EQ(notices_.EventSequences(), (std::vector<uint64_t>{1, 2, 3, 1, 2}));
}

// OVERFLOW_BLOCK with a handler that stops: the daemon ends the stream after
// --max-block, the subscriber resumes where it stopped and reports what the
// ring dropped meanwhile; the events and the Lagged range tile 1..N.
TEST_P(SubscriberTest, BlockStreamEndedByTheDaemonResumesAndReportsTheLoss) {
  StartDaemon("127.0.0.1:0", {"--capacity", "16", "--max-block", "100ms"});
  SubscriberOptions options = FastRetry();
  options.request.set_overflow(v1::OVERFLOW_BLOCK);
  absl::Notification go_on;
  Subscriber::Handler record = notices_.Handler();
  auto subscriber = *StartSubscriber(
      Channel(daemon_->address()), options, [&](SubscriberNotice notice) {
        const bool stall = notice.kind == Kind::kEvent &&
                           notice.event.sequence() == 1 &&
                           !go_on.HasBeenNotified();
        record(std::move(notice));
        if (stall) go_on.WaitForNotification();  // stop reading for a while
      });
  ASSERT_TRUE(notices_.Await(Kind::kConnected, 1));
  // 4 KiB each, 12 MiB in all: beyond what gRPC's windows buffer.
  constexpr int kEvents = 3000;
  v1::Event big = FullAuditEvent();
  big.mutable_audit()->set_metadata(std::string(4096, 'm'));
  const absl::Time start = absl::Now();
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(publisher_->Publish(big).ok());
  }
  // One publish waited for the stalled subscriber, for max_block.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  go_on.Notify();

  ASSERT_TRUE(notices_.Await(Kind::kLagged, 1));
  const auto disconnected = notices_.Of(Kind::kDisconnected);
  ASSERT_EQ(disconnected.size(), 1u);
  EXPECT_THAT(disconnected[0].status,
              StatusIs(absl::StatusCode::kResourceExhausted,
                       ::testing::HasSubstr("bus.max_block (100ms)")));
  EXPECT_FALSE(disconnected[0].final);
  const auto lagged = notices_.Of(Kind::kLagged);
  ASSERT_EQ(lagged.size(), 1u);
  const v1::Lagged& lag = lagged[0].lagged;
  EXPECT_THAT(disconnected[0].status.message(),
              ::testing::HasSubstr(
                  absl::StrCat("resume from sequence ", lag.first_sequence())));
  // Every event before the range and after it arrives, once, in order: the
  // events and the range tile 1..kEvents.
  ASSERT_TRUE(notices_.Await(Kind::kEvent, kEvents - lag.missed()));
  std::vector<uint64_t> expected;
  for (uint64_t s = 1; s <= kEvents; ++s) {
    if (s < lag.first_sequence() || s > lag.last_sequence()) {
      expected.push_back(s);
    }
  }
  EXPECT_EQ(notices_.EventSequences(), expected);
}

TEST_P(SubscriberTest, BackoffGrowsAndStaysBounded) {
  SubscriberOptions options;
  options.backoff = {.initial = absl::Milliseconds(10),
                     .max = absl::Milliseconds(80),
                     .multiplier = 2,
                     .jitter = 0};
  // Nothing listens on port 1.
  auto subscriber =
      *StartSubscriber(Channel("127.0.0.1:1"), options, notices_.Handler());
  ASSERT_TRUE(notices_.Await(Kind::kDisconnected, 6));
  const auto disconnected = notices_.Of(Kind::kDisconnected);
  const std::vector<absl::Duration> expected = {
      absl::Milliseconds(10), absl::Milliseconds(20), absl::Milliseconds(40),
      absl::Milliseconds(80), absl::Milliseconds(80), absl::Milliseconds(80)};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(disconnected[i].retry_in, expected[i]) << i;
    EXPECT_THAT(disconnected[i].status,
                StatusIs(absl::StatusCode::kUnavailable));
    EXPECT_FALSE(disconnected[i].final);
  }
}

TEST_P(SubscriberTest, BadFilterStopsForGood) {
  StartDaemon();
  SubscriberOptions options;
  options.request.mutable_filter()->add_types(static_cast<v1::EventType>(9));
  auto subscriber = *StartSubscriber(Channel(daemon_->address()), options);
  auto notice = subscriber->Next(absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(notice->kind, Kind::kDisconnected);
  EXPECT_TRUE(notice->final);
  EXPECT_THAT(notice->status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(subscriber->Next(absl::Now() + absl::Seconds(20)).has_value());
}

TEST_P(SubscriberTest, IteratorYieldsNotices) {
  StartDaemon();
  auto subscriber = *StartSubscriber(Channel(daemon_->address()), {});
  auto connected = subscriber->Next(absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(connected.has_value());
  // A stream that broke says why (seen once on a bare Debian 12 under a
  // parallel ctest: the first notice was a disconnect).
  ASSERT_EQ(connected->kind, Kind::kConnected)
      << connected->status << "\ndaemon log:\n"
      << daemon_->Log();
  EXPECT_EQ(connected->sequence, 1u);
  Publish(1);
  auto event = subscriber->Next(absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, Kind::kEvent);
  EXPECT_EQ(event->event.audit().username(), "alice");
  EXPECT_FALSE(subscriber->Next(absl::Now() + absl::Milliseconds(50)));
}

TEST_P(SubscriberTest, DestructorCancelsPromptlyWhileConnectedOrBackingOff) {
  StartDaemon();
  auto connected =
      *StartSubscriber(Channel(daemon_->address()), {}, notices_.Handler());
  ASSERT_TRUE(notices_.Await(Kind::kConnected, 1));
  SubscriberOptions slow;
  slow.backoff.initial = absl::Hours(1);
  Notices backing_off;
  auto waiting =
      *StartSubscriber(Channel("127.0.0.1:1"), slow, backing_off.Handler());
  ASSERT_TRUE(backing_off.Await(Kind::kDisconnected, 1));
  const absl::Time start = absl::Now();
  connected.reset();
  waiting.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// Many subscribers on one SharedStream: each gets what its own filter
// passes, and the daemon counts each as a subscriber on one stream.
TEST(SharedStreamTest, ManySubscribersOneStream) {
  auto daemon = DaemonProcess::Start({"--address", "127.0.0.1:0"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto channel = grpc::CreateChannel((*daemon)->address(),
                                     grpc::InsecureChannelCredentials());
  auto publisher = *Publisher::Create(channel);
  auto shared = SharedStream::Create(channel);
  constexpr int kSubscribers = 20;
  std::vector<Notices> notices(kSubscribers);
  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    SubscriberOptions options;
    options.shared_stream = shared;
    options.request.set_name(absl::StrCat("watcher-", i));
    // Subscriber i passes the events whose username is "user-i", or
    // "everyone".
    options.request.mutable_filter()->set_expression(
        absl::StrCat("audit.username in [\"user-", i, "\", \"everyone\"]"));
    subscribers.push_back(
        *Subscriber::Start(nullptr, std::move(options), notices[i].Handler()));
  }
  for (Notices& one : notices) ASSERT_TRUE(one.Await(Kind::kConnected, 1));
  v1::Event event = FullAuditEvent();
  for (int i = 0; i < kSubscribers; ++i) {
    event.mutable_audit()->set_username(absl::StrCat("user-", i));
    ASSERT_TRUE(publisher->Publish(event).ok());
  }
  event.mutable_audit()->set_username("everyone");
  ASSERT_TRUE(publisher->Publish(event).ok());
  for (int i = 0; i < kSubscribers; ++i) {
    ASSERT_TRUE(notices[i].Await(Kind::kEvent, 2)) << i;
    EXPECT_EQ(
        notices[i].EventSequences(),
        (std::vector<uint64_t>{static_cast<uint64_t>(i) + 1, kSubscribers + 1}))
        << i;
  }
  // One stream: a subscriber on another channel is refused its option.
  SubscriberOptions other;
  other.shared_stream = shared;
  EXPECT_THAT(
      Subscriber::Start(grpc::CreateChannel((*daemon)->address(),
                                            grpc::InsecureChannelCredentials()),
                        other)
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
  subscribers.clear();  // each cancels its subscription, promptly
}

}  // namespace
}  // namespace eventbus::client

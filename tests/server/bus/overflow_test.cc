// The three overflow policies on the in-process Bus: a kBlock subscription
// holds publishers back (they wait, resume when it reads, and end it after
// max_block), kDisconnect ends instead of losing, kDropOldest reports the
// loss; mixed on one bus, each subscriber's accounting is exact.
#include <memory>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bus/bus.h"
#include "tests/server/bus/bus_test_util.h"
#include "tests/testing/status_matchers.h"

namespace eventbus {
namespace {

using ::eventbus::testing::AuditEvent;
using ::eventbus::testing::Sequences;
using ::eventbus::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(60);

Bus MakeBus(uint64_t capacity, absl::Duration max_block = kLong) {
  BusOptions options;
  options.capacity = capacity;
  options.max_block = max_block;
  return *Bus::Create(options);
}

std::unique_ptr<Subscription> Subscribe(const Bus& bus, Overflow overflow) {
  SubscribeOptions options;
  options.overflow = overflow;
  absl::StatusOr<std::unique_ptr<Subscription>> subscription =
      bus.Subscribe(std::move(options));
  EXPECT_TRUE(subscription.ok()) << subscription.status();
  return subscription.ok() ? *std::move(subscription) : nullptr;
}

void PublishN(const Bus& bus, int n) {
  for (int i = 0; i < n; ++i) ASSERT_TRUE(bus.Publish(AuditEvent()).ok());
}

ReadBatch Read(Subscription& subscription, size_t max_events = 1024) {
  ReadBatch batch;
  subscription.TryRead({.max_events = max_events}, &batch);
  return batch;
}

// Waits, within a deadline, until `count` publishers wait in Publish().
bool AwaitBlockedPublishers(const Bus& bus, uint64_t count) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (bus.blocked_publishers() != count) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

class CountingWaiter final : public PublishWaiter {
 public:
  void OnMayPublish() override {
    MutexLock lock(&mu_);
    ++calls_;
  }
  int calls() {
    MutexLock lock(&mu_);
    return calls_;
  }

 private:
  Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(OverflowTest, BlockHoldsThePublisherUntilTheReaderReads) {
  Bus bus = MakeBus(4);
  auto reader = Subscribe(bus, Overflow::kBlock);
  PublishN(bus, 4);  // the ring is full of unread events
  absl::StatusOr<PublishResult> fifth;
  std::thread publisher([&] { fifth = bus.Publish(AuditEvent("5")); });
  ASSERT_TRUE(AwaitBlockedPublishers(bus, 1));
  EXPECT_EQ(bus.next_sequence(), 5u);

  EXPECT_THAT(Sequences(Read(*reader, 1)), ElementsAre(1));
  publisher.join();
  ASSERT_TRUE(fifth.ok()) << fifth.status();
  EXPECT_EQ(fifth->sequence, 5u);
  ReadBatch rest = Read(*reader);
  EXPECT_FALSE(rest.lag.has_value());
  EXPECT_THAT(Sequences(rest), ElementsAre(2, 3, 4, 5));
}

TEST(OverflowTest, TryPublishArmsTheWaiterAndSaysWhenToRetry) {
  Bus bus = MakeBus(2, absl::Seconds(30));
  auto reader = Subscribe(bus, Overflow::kBlock);
  PublishN(bus, 2);
  absl::StatusOr<PreparedEvent> event = bus.Prepare(AuditEvent());
  ASSERT_TRUE(event.ok());
  auto waiter = std::make_shared<CountingWaiter>();
  const absl::Time before = absl::Now();
  absl::StatusOr<PublishAttempt> attempt = bus.TryPublish(&*event, waiter);
  ASSERT_TRUE(attempt.ok());
  EXPECT_FALSE(attempt->published.has_value());
  EXPECT_GE(attempt->retry_by, before + absl::Seconds(30));
  EXPECT_EQ(waiter->calls(), 0);

  Read(*reader, 1);  // makes room: the waiter is told
  EXPECT_EQ(waiter->calls(), 1);
  attempt = bus.TryPublish(&*event, waiter);
  ASSERT_TRUE(attempt.ok());
  ASSERT_TRUE(attempt->published.has_value());
  EXPECT_EQ(attempt->published->sequence, 3u);
}

TEST(OverflowTest, AReaderAheadOfTheSlowestReleasesNobody) {
  Bus bus = MakeBus(2, absl::Seconds(30));
  auto slow = Subscribe(bus, Overflow::kBlock);
  auto fast = Subscribe(bus, Overflow::kBlock);
  PublishN(bus, 2);
  absl::StatusOr<PreparedEvent> event = bus.Prepare(AuditEvent());
  auto waiter = std::make_shared<CountingWaiter>();
  ASSERT_FALSE(bus.TryPublish(&*event, waiter)->published.has_value());
  Read(*fast);
  EXPECT_EQ(waiter->calls(), 0);
  Read(*slow, 1);
  EXPECT_EQ(waiter->calls(), 1);
}

TEST(OverflowTest, BlockEndsTheReaderAfterMaxBlockAndPublishingGoesOn) {
  constexpr absl::Duration kMaxBlock = absl::Milliseconds(50);
  Bus bus = MakeBus(4, kMaxBlock);
  auto stalled = Subscribe(bus, Overflow::kBlock);
  PublishN(bus, 4);
  const absl::Time start = absl::Now();
  absl::StatusOr<PublishResult> fifth = bus.Publish(AuditEvent());
  EXPECT_GE(absl::Now() - start, kMaxBlock);
  ASSERT_TRUE(fifth.ok()) << fifth.status();
  EXPECT_EQ(fifth->sequence, 5u);

  // No longer held: the next publishes do not wait.
  const absl::Time after = absl::Now();
  PublishN(bus, 20);
  EXPECT_LT(absl::Now() - after, kMaxBlock);

  ReadBatch batch = Read(*stalled);
  EXPECT_THAT(batch.ended, StatusIs(absl::StatusCode::kResourceExhausted,
                                    HasSubstr("resume from sequence 1")));
  EXPECT_THAT(batch.ended.message(), HasSubstr("bus.max_block (50ms)"));
  EXPECT_TRUE(batch.events.empty());
  EXPECT_EQ(stalled->cursor(), 1u);
  // Ended for good.
  EXPECT_THAT(Read(*stalled).ended,
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(OverflowTest, BlockEndsOnlyTheReadersInTheWay) {
  Bus bus = MakeBus(4, absl::Milliseconds(20));
  auto stalled = Subscribe(bus, Overflow::kBlock);
  auto reading = Subscribe(bus, Overflow::kBlock);
  PublishN(bus, 4);
  Read(*reading);
  PublishN(bus, 1);  // held, then ends `stalled` only
  EXPECT_THAT(Read(*stalled).ended,
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(Sequences(Read(*reading)), ElementsAre(5));
}

TEST(OverflowTest, CancellingTheBlockingReaderReleasesThePublisherAtOnce) {
  Bus bus = MakeBus(4);
  auto reader = Subscribe(bus, Overflow::kBlock);
  PublishN(bus, 4);
  absl::StatusOr<PublishResult> fifth;
  std::thread publisher([&] { fifth = bus.Publish(AuditEvent()); });
  ASSERT_TRUE(AwaitBlockedPublishers(bus, 1));
  const absl::Time start = absl::Now();
  reader.reset();
  publisher.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // far below kLong
  ASSERT_TRUE(fifth.ok());
  EXPECT_EQ(fifth->sequence, 5u);
}

TEST(OverflowTest, CloseReleasesABlockedPublisherWithUnavailable) {
  Bus bus = MakeBus(4);
  auto reader = Subscribe(bus, Overflow::kBlock);
  PublishN(bus, 4);
  absl::StatusOr<PublishResult> fifth;
  std::thread publisher([&] { fifth = bus.Publish(AuditEvent()); });
  ASSERT_TRUE(AwaitBlockedPublishers(bus, 1));
  bus.Close();
  publisher.join();
  EXPECT_THAT(fifth, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(bus.next_sequence(), 5u);
}

TEST(OverflowTest, BlockFromALostSequenceReportsTheLossThenHolds) {
  Bus bus = MakeBus(4);
  PublishN(bus, 10);  // keeps 7..10
  SubscribeOptions options;
  options.start = SubscribeOptions::Start::kSequence;
  options.from_sequence = 2;
  options.overflow = Overflow::kBlock;
  auto reader = *bus.Subscribe(std::move(options));
  absl::StatusOr<PreparedEvent> event = bus.Prepare(AuditEvent());
  EXPECT_FALSE(
      bus.TryPublish(&*event, std::weak_ptr<PublishWaiter>())->published);
  ReadBatch batch = Read(*reader);
  ASSERT_TRUE(batch.lag.has_value());
  EXPECT_EQ(*batch.lag, (Lag{.first_sequence = 2, .last_sequence = 6}));
  EXPECT_THAT(Sequences(batch), ElementsAre(7, 8, 9, 10));
}

TEST(OverflowTest, DisconnectEndsInsteadOfLosingAndNamesTheNextSequence) {
  Bus bus = MakeBus(4);
  auto reader = Subscribe(bus, Overflow::kDisconnect);
  PublishN(bus, 2);
  EXPECT_THAT(Sequences(Read(*reader)), ElementsAre(1, 2));
  PublishN(bus, 6);  // 3..8; the ring keeps 5..8, so 3 is gone
  ReadBatch batch = Read(*reader);
  EXPECT_THAT(batch.ended, StatusIs(absl::StatusCode::kResourceExhausted,
                                    HasSubstr("resume from sequence 3")));
  EXPECT_THAT(batch.ended.message(), HasSubstr("DISCONNECT"));
  EXPECT_FALSE(batch.lag.has_value());
  EXPECT_TRUE(batch.events.empty());
  EXPECT_EQ(reader->cursor(), 3u);
}

TEST(OverflowTest, DisconnectNeverHoldsThePublisher) {
  Bus bus = MakeBus(2);
  auto reader = Subscribe(bus, Overflow::kDisconnect);
  PublishN(bus, 100);
  EXPECT_EQ(bus.next_sequence(), 101u);
}

// One publisher, one reader of each policy, capacity 8: the kBlock reader
// gets every event in order; the kDropOldest reader's events and lag
// notices tile 1..N; the kDisconnect reader gets 1..K-1 and then ends,
// naming K.
TEST(OverflowTest, MixedPoliciesAccountExactlyPerSubscriber) {
  constexpr int kEvents = 5000;
  Bus bus = MakeBus(8);
  auto block = Subscribe(bus, Overflow::kBlock);
  auto drop = Subscribe(bus, Overflow::kDropOldest);
  auto disconnect = Subscribe(bus, Overflow::kDisconnect);

  std::thread publisher([&] { PublishN(bus, kEvents); });
  uint64_t block_next = 1;
  bool block_ordered = true;
  while (block_next <= kEvents) {
    ReadBatch batch;
    block->Read(absl::Now() + absl::Seconds(30), {.max_events = 3}, &batch);
    ASSERT_FALSE(batch.empty()) << "the publisher stopped at " << block_next;
    if (batch.lag) block_ordered = false;
    for (const auto& event : batch.events) {
      if (event->sequence() != block_next) block_ordered = false;
      ++block_next;
    }
  }
  publisher.join();
  EXPECT_TRUE(block_ordered);
  EXPECT_EQ(block_next, kEvents + 1u);

  // The other two never read during the run: they fell 5000 behind.
  uint64_t drop_next = 1;
  uint64_t drop_missed = 0;
  for (ReadBatch batch = Read(*drop); !batch.empty(); batch = Read(*drop)) {
    if (batch.lag) {
      EXPECT_EQ(batch.lag->first_sequence, drop_next);
      drop_missed += batch.lag->missed();
      drop_next = batch.lag->last_sequence + 1;
    }
    for (const auto& event : batch.events) {
      EXPECT_EQ(event->sequence(), drop_next);
      ++drop_next;
    }
  }
  EXPECT_EQ(drop_next, kEvents + 1u);
  EXPECT_EQ(drop_missed, kEvents - 8u);

  ReadBatch ended = Read(*disconnect);
  EXPECT_THAT(ended.ended, StatusIs(absl::StatusCode::kResourceExhausted,
                                    HasSubstr("resume from sequence 1")));
  EXPECT_EQ(disconnect->cursor(), 1u);
}

// A bus whose clock the test moves, for the hold's timing without waiting.
struct FakeClockBus {
  explicit FakeClockBus(uint64_t capacity) {
    BusOptions options;
    options.capacity = capacity;
    options.max_block = absl::Seconds(1);
    options.clock = [this] {
      MutexLock lock(&mu);
      return now;
    };
    bus = std::make_unique<Bus>(*Bus::Create(options));
  }
  void Advance(absl::Duration by) {
    MutexLock lock(&mu);
    now += by;
  }
  absl::StatusOr<PublishAttempt> Try(std::weak_ptr<PublishWaiter> waiter) {
    absl::StatusOr<PreparedEvent> event = bus->Prepare(AuditEvent());
    EXPECT_TRUE(event.ok());
    return bus->TryPublish(&*event, std::move(waiter));
  }

  Mutex mu;
  absl::Time now ABSL_GUARDED_BY(mu) = absl::FromUnixSeconds(1700000000);
  std::unique_ptr<Bus> bus;
};

TEST(OverflowTest, EndingAHolderReleasesTheOtherWaitingPublishers) {
  FakeClockBus clock(2);
  auto stalled = Subscribe(*clock.bus, Overflow::kBlock);
  PublishN(*clock.bus, 2);
  auto first = std::make_shared<CountingWaiter>();
  ASSERT_FALSE(clock.Try(first)->published);
  clock.Advance(absl::Seconds(1));
  // The second attempt finds the hold a max_block old: it ends the holder
  // and publishes, and the first publisher is told it may go on.
  auto second = std::make_shared<CountingWaiter>();
  absl::StatusOr<PublishAttempt> attempt = clock.Try(second);
  ASSERT_TRUE(attempt->published.has_value());
  EXPECT_EQ(attempt->published->sequence, 3u);
  EXPECT_EQ(first->calls(), 1);
  EXPECT_TRUE(clock.Try(first)->published.has_value());
  EXPECT_THAT(Read(*stalled).ended,
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(OverflowTest, AHoldNobodyWaitsForAnyMoreStartsAnew) {
  FakeClockBus clock(2);
  auto stalled = Subscribe(*clock.bus, Overflow::kBlock);
  PublishN(*clock.bus, 2);
  {
    auto gave_up = std::make_shared<CountingWaiter>();
    ASSERT_FALSE(clock.Try(gave_up)->published);
  }  // its deadline passed: the waiter is gone
  clock.Advance(absl::Seconds(5));
  // A later publish is held for a max_block of its own.
  auto waiter = std::make_shared<CountingWaiter>();
  absl::StatusOr<PublishAttempt> attempt = clock.Try(waiter);
  ASSERT_FALSE(attempt->published.has_value());
  EXPECT_EQ(attempt->retry_by,
            absl::FromUnixSeconds(1700000000) + absl::Seconds(6));
  EXPECT_TRUE(Read(*stalled, 1).ended.ok());
}

TEST(OverflowTest, RetriesOfOneWaiterKeepTheHoldsStart) {
  FakeClockBus clock(2);
  auto stalled = Subscribe(*clock.bus, Overflow::kBlock);
  PublishN(*clock.bus, 2);
  auto waiter = std::make_shared<CountingWaiter>();
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(clock.Try(waiter)->retry_by, start + absl::Seconds(1));
  clock.Advance(absl::Milliseconds(500));
  EXPECT_EQ(clock.Try(waiter)->retry_by, start + absl::Seconds(1));
  clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(clock.Try(waiter)->published.has_value());
}

TEST(OverflowTest, DisconnectFromALostSequenceReportsTheLossBeforeEnding) {
  Bus bus = MakeBus(4);
  PublishN(bus, 6);  // keeps 3..6
  SubscribeOptions options;
  options.start = SubscribeOptions::Start::kSequence;
  options.from_sequence = 1;
  options.overflow = Overflow::kDisconnect;
  auto reader = *bus.Subscribe(std::move(options));
  PublishN(bus, 4);  // keeps 7..10: the reader, at 3, is lapped too
  ReadBatch lag = Read(*reader);
  ASSERT_TRUE(lag.lag.has_value());
  EXPECT_EQ(*lag.lag, (Lag{.first_sequence = 1, .last_sequence = 2}));
  EXPECT_TRUE(lag.ended.ok());
  EXPECT_THAT(Read(*reader).ended,
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("resume from sequence 3")));
}

TEST(OverflowTest, CreateRejectsMaxBlockOutOfRange) {
  BusOptions options;
  options.max_block = absl::Microseconds(999);
  EXPECT_THAT(Bus::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("max_block must be between 1ms and 1h")));
  options.max_block = absl::Hours(1) + absl::Seconds(1);
  EXPECT_THAT(Bus::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace eventbus

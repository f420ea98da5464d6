// The bus core: publish, start positions and lag, pinned the way tokio's
// broadcast tests pin them (exact missed counts, lag -> catch up -> lag).
#include "server/bus/bus.h"

#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/bus/bus_test_util.h"
#include "tests/testing/status_matchers.h"

namespace eventbus {
namespace {

using ::eventbus::testing::AuditEvent;
using ::eventbus::testing::IsOk;
using ::eventbus::testing::Sequences;
using ::eventbus::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class BusTest : public ::testing::Test {
 protected:
  void MakeBus(uint64_t capacity) {
    BusOptions options;
    options.capacity = capacity;
    options.clock = [this] { return now_; };
    bus_ = std::make_unique<Bus>(*Bus::Create(options));
  }
  void SetUp() override { MakeBus(4); }

  uint64_t Publish(const std::string& resource = "r") {
    auto result = bus_->Publish(AuditEvent(resource));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->sequence : 0;
  }
  void PublishN(int n) {
    for (int i = 0; i < n; ++i) Publish();
  }
  std::unique_ptr<Subscription> Subscribe(SubscribeOptions options = {}) {
    auto subscription = bus_->Subscribe(std::move(options));
    EXPECT_TRUE(subscription.ok()) << subscription.status();
    return subscription.ok() ? std::move(*subscription) : nullptr;
  }
  std::unique_ptr<Subscription> SubscribeFrom(uint64_t sequence) {
    SubscribeOptions options;
    options.start = SubscribeOptions::Start::kSequence;
    options.from_sequence = sequence;
    return Subscribe(std::move(options));
  }
  ReadBatch Read(Subscription& subscription, ReadLimits limits = {}) {
    ReadBatch batch;
    subscription.TryRead(limits, &batch);
    return batch;
  }

  absl::Time now_ = absl::FromUnixMillis(1700000000123);
  std::unique_ptr<Bus> bus_;
};

TEST_F(BusTest, CreateRejectsCapacityOutOfRange) {
  BusOptions options;
  options.capacity = 0;
  EXPECT_EQ(Bus::Create(options).status(),
            absl::InvalidArgumentError(
                "capacity must be between 1 and 16777216, got 0"));
  options.capacity = BusOptions::kMaxCapacity + 1;
  EXPECT_THAT(Bus::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BusTest, PublishAssignsSequenceTimeAndId) {
  auto sub = Subscribe();
  v1::Event event = AuditEvent();
  event.set_sequence(99);
  event.mutable_publish_time()->set_seconds(5);
  auto first = bus_->Publish(event);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->sequence, 1u);
  EXPECT_EQ(first->subscribers, 1u);
  EXPECT_THAT(first->id,
              ::testing::MatchesRegex(
                  "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]"
                  "{3}-[0-9a-f]{12}"));
  event.set_id("kept");
  auto second = bus_->Publish(event);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->sequence, 2u);
  EXPECT_EQ(second->id, "kept");

  ReadBatch batch = Read(*sub);
  ASSERT_EQ(batch.events.size(), 2u);
  const v1::Event& stored = batch.events[0]->event();
  EXPECT_EQ(stored.sequence(), 1u);
  EXPECT_EQ(stored.publish_time().seconds(), 1700000000);
  EXPECT_EQ(stored.publish_time().nanos(), 123000000);
  EXPECT_EQ(stored.id(), first->id);
  EXPECT_EQ(batch.events[1]->event().id(), "kept");
}

TEST_F(BusTest, EncodedBytesAreTheCanonicalEncoding) {
  auto sub = Subscribe();
  v1::Event event = AuditEvent();
  (*event.mutable_attributes())["team"] = "ml";
  event.mutable_audit()->set_access_location("s3://bucket");
  Publish();  // sequence 1
  ASSERT_TRUE(bus_->Publish(event).ok());
  now_ = absl::FromUnixSeconds(1700000001);  // nanos 0: field left out
  ASSERT_TRUE(bus_->Publish(event).ok());
  ReadBatch batch = Read(*sub);
  ASSERT_EQ(batch.events.size(), 3u);
  for (const auto& stored : batch.events) {
    EXPECT_EQ(stored->encoded(), stored->event().SerializeAsString());
  }
}

TEST_F(BusTest, PublishNanosSaturateForClocksPastInt64Nanoseconds) {
  auto sub = Subscribe();
  now_ = absl::FromUnixSeconds(253402300799) + absl::Nanoseconds(999999999);
  Publish();
  now_ = absl::FromUnixSeconds(-62135596800);
  Publish();
  ReadBatch batch = Read(*sub);
  ASSERT_EQ(batch.events.size(), 2u);
  // The timestamps are exact; only the nanosecond count the latency
  // histogram reads saturates.
  EXPECT_EQ(batch.events[0]->event().publish_time().seconds(), 253402300799);
  EXPECT_EQ(batch.events[0]->publish_nanos(),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(batch.events[1]->event().publish_time().seconds(), -62135596800);
  EXPECT_EQ(batch.events[1]->publish_nanos(),
            std::numeric_limits<int64_t>::min());
}

TEST_F(BusTest, ReadersShareOneParseOfEachEvent) {
  auto first = Subscribe();
  auto second = Subscribe();
  Publish();
  ReadBatch a = Read(*first);
  ReadBatch b = Read(*second);
  ASSERT_EQ(a.events.size(), 1u);
  ASSERT_EQ(b.events.size(), 1u);
  // The message is parsed from the stored bytes on first use, once, even
  // when readers ask at the same time (ThreadSanitizer runs this test).
  const StoredEvent& stored = *a.events[0];
  std::vector<const v1::Event*> seen(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { seen[i] = &stored.event(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const v1::Event* event : seen) EXPECT_EQ(event, seen[0]);
  EXPECT_EQ(&b.events[0]->event(), seen[0]);
  EXPECT_EQ(seen[0]->sequence(), 1u);
}

TEST_F(BusTest, PublishWithoutSubscribersSucceeds) {
  auto result = bus_->Publish(AuditEvent());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->subscribers, 0u);
}

TEST_F(BusTest, RejectedPublishConsumesNoSequence) {
  EXPECT_THAT(bus_->Publish(v1::Event()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Publish(), 1u);
}

TEST_F(BusTest, OversizedEventIsRejectedNamingTheLimit) {
  BusOptions options;
  options.max_event_bytes = 100;
  Bus bus = *Bus::Create(options);
  v1::Event event = AuditEvent(std::string(200, 'x'));
  EXPECT_THAT(bus.Publish(event),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bus.max_event_bytes = 100")));
  EXPECT_EQ(bus.next_sequence(), 1u);
}

TEST_F(BusTest, SizeLimitCountsWhatThePublisherSent) {
  // At the limit as sent, without an id: accepted, though the stored event
  // is larger by the id, sequence and time the bus assigns.
  v1::Event event = AuditEvent(std::string(100, 'x'));
  const size_t sent = event.ByteSizeLong();
  BusOptions options;
  options.max_event_bytes = sent;
  Bus bus = *Bus::Create(options);
  ASSERT_THAT(bus.Publish(event), IsOk());
  // Sequence and publish_time sent by the publisher are replaced, not
  // counted; one byte more of its own is over, and the message says the
  // size it sent.
  event.set_sequence(12345);
  ASSERT_THAT(bus.Publish(event), IsOk());
  event = AuditEvent(std::string(101, 'x'));
  EXPECT_THAT(bus.Publish(event),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("event is ", sent + 1,
                                              " bytes serialized"))));
  EXPECT_EQ(bus.next_sequence(), 3u);
}

TEST_F(BusTest, SubscriberSeesOnlyEventsAfterSubscribing) {
  PublishN(2);
  auto sub = Subscribe();
  PublishN(2);
  EXPECT_THAT(Sequences(Read(*sub)), ElementsAre(3, 4));
  EXPECT_THAT(Sequences(Read(*sub)), IsEmpty());
}

TEST_F(BusTest, EverySubscriberSeesEveryEvent) {
  auto a = Subscribe();
  auto b = Subscribe();
  PublishN(3);
  EXPECT_THAT(Sequences(Read(*a)), ElementsAre(1, 2, 3));
  EXPECT_THAT(Sequences(Read(*b)), ElementsAre(1, 2, 3));
}

// tokio: lagging_rx (capacity 2, three sends -> Lagged(1), then 2, 3).
TEST_F(BusTest, LaggingSubscriberIsToldExactlyWhatItLost) {
  MakeBus(2);
  auto sub = Subscribe();
  PublishN(3);
  ReadBatch batch = Read(*sub);
  ASSERT_TRUE(batch.lag.has_value());
  EXPECT_EQ(*batch.lag, (Lag{1, 1, v1::PRIORITY_NORMAL}));
  EXPECT_EQ(batch.lag->missed(), 1u);
  EXPECT_THAT(Sequences(batch), ElementsAre(2, 3));
}

TEST_F(BusTest, LagThenCatchUpThenLagAgain) {
  auto sub = Subscribe();
  PublishN(10);  // capacity 4: 1..6 lost
  ReadBatch batch = Read(*sub);
  EXPECT_EQ(batch.lag, (Lag{1, 6, v1::PRIORITY_NORMAL}));
  EXPECT_THAT(Sequences(batch), ElementsAre(7, 8, 9, 10));

  PublishN(2);
  batch = Read(*sub);
  EXPECT_FALSE(batch.lag.has_value());
  EXPECT_THAT(Sequences(batch), ElementsAre(11, 12));

  PublishN(7);  // 13..19; 13..15 lost
  batch = Read(*sub);
  EXPECT_EQ(batch.lag, (Lag{13, 15, v1::PRIORITY_NORMAL}));
  EXPECT_THAT(Sequences(batch), ElementsAre(16, 17, 18, 19));
}

TEST_F(BusTest, LagIsPerSubscriber) {
  auto slow = Subscribe();
  auto fast = Subscribe();
  for (int i = 0; i < 6; ++i) {
    Publish();
    EXPECT_FALSE(Read(*fast).lag.has_value());
  }
  EXPECT_EQ(Read(*slow).lag, (Lag{1, 2, v1::PRIORITY_NORMAL}));
}

TEST_F(BusTest, CapacityOneKeepsOnlyTheLatest) {
  MakeBus(1);
  auto sub = Subscribe();
  PublishN(2);
  ReadBatch batch = Read(*sub);
  EXPECT_EQ(batch.lag, (Lag{1, 1, v1::PRIORITY_NORMAL}));
  EXPECT_THAT(Sequences(batch), ElementsAre(2));
  Publish();
  batch = Read(*sub);
  EXPECT_FALSE(batch.lag.has_value());
  EXPECT_THAT(Sequences(batch), ElementsAre(3));
}

TEST_F(BusTest, ReadLimitsSplitBatchesWithoutLoss) {
  auto sub = Subscribe();
  PublishN(4);
  EXPECT_THAT(Sequences(Read(*sub, {.max_events = 3})), ElementsAre(1, 2, 3));
  EXPECT_THAT(Sequences(Read(*sub, {.max_events = 3})), ElementsAre(4));
  PublishN(2);
  // A byte budget smaller than one event still yields one event per read.
  EXPECT_THAT(Sequences(Read(*sub, {.max_bytes = 1})), ElementsAre(5));
  EXPECT_THAT(Sequences(Read(*sub, {.max_bytes = 1})), ElementsAre(6));
}

TEST_F(BusTest, FromEarliestStartsAtTheOldestRetained) {
  SubscribeOptions options;
  options.start = SubscribeOptions::Start::kEarliest;
  auto empty_bus_sub = Subscribe(options);
  PublishN(6);
  auto sub = Subscribe(options);
  EXPECT_THAT(Sequences(Read(*sub)), ElementsAre(3, 4, 5, 6));
  EXPECT_EQ(Read(*empty_bus_sub).lag, (Lag{1, 2, v1::PRIORITY_NORMAL}));
}

TEST_F(BusTest, FromSequenceWithinTheRing) {
  PublishN(3);
  auto sub = SubscribeFrom(2);
  EXPECT_THAT(Sequences(Read(*sub)), ElementsAre(2, 3));
}

TEST_F(BusTest, FromNextSequenceWaitsForIt) {
  PublishN(3);
  auto sub = SubscribeFrom(4);
  EXPECT_THAT(Sequences(Read(*sub)), IsEmpty());
  Publish();
  EXPECT_THAT(Sequences(Read(*sub)), ElementsAre(4));
}

TEST_F(BusTest, FromSequenceOlderThanRetainedReportsTheLostRangeFirst) {
  PublishN(10);
  auto sub = SubscribeFrom(3);
  ReadBatch batch = Read(*sub);
  EXPECT_EQ(batch.lag, (Lag{3, 6}));
  EXPECT_THAT(Sequences(batch), ElementsAre(7, 8, 9, 10));
}

TEST_F(BusTest, FromSequenceZeroIsInvalid) {
  SubscribeOptions options;
  options.start = SubscribeOptions::Start::kSequence;
  EXPECT_EQ(bus_->Subscribe(options).status(),
            absl::InvalidArgumentError(
                "from_sequence must be >= 1 (sequences start at 1)"));
}

TEST_F(BusTest, FromSequenceBeyondNextIsOutOfRange) {
  PublishN(3);
  SubscribeOptions options;
  options.start = SubscribeOptions::Start::kSequence;
  options.from_sequence = 5;
  EXPECT_EQ(bus_->Subscribe(options).status(),
            absl::OutOfRangeError("from_sequence 5 is beyond the next "
                                  "sequence to be published, 4"));
}

TEST_F(BusTest, SubscriberCountFollowsSubscriptions) {
  auto a = Subscribe();
  {
    auto b = Subscribe();
    EXPECT_EQ(bus_->subscriber_count(), 2u);
  }
  EXPECT_EQ(bus_->subscriber_count(), 1u);
  a.reset();
  EXPECT_EQ(bus_->subscriber_count(), 0u);
}

TEST_F(BusTest, MaxSubscribersIsResourceExhausted) {
  BusOptions options;
  options.max_subscribers = 1;
  Bus bus = *Bus::Create(options);
  auto first = bus.Subscribe({});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(bus.Subscribe({}).status(),
            absl::ResourceExhaustedError("subscriber limit reached: 1 "
                                         "subscribers, server.max_subscribers "
                                         "is 1"));
  first->reset();
  EXPECT_TRUE(bus.Subscribe({}).ok());
}

TEST_F(BusTest, CloseRejectsPublishAndEndsStreamsAfterTheRest) {
  auto sub = Subscribe();
  PublishN(2);
  bus_->Close();
  EXPECT_THAT(bus_->Publish(AuditEvent()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(bus_->Subscribe({}), StatusIs(absl::StatusCode::kUnavailable));
  ReadBatch batch = Read(*sub);
  EXPECT_THAT(Sequences(batch), ElementsAre(1, 2));
  EXPECT_FALSE(batch.end_of_stream);
  EXPECT_TRUE(Read(*sub).end_of_stream);
}

TEST_F(BusTest, StatsCountPublishedDeliveredAndMissedExactly) {
  auto reader = Subscribe();
  PublishN(3);
  ASSERT_EQ(Read(*reader).events.size(), 3u);
  PublishN(7);  // capacity 4: 7..10 are retained, 4..6 lost
  const ReadBatch batch = Read(*reader);
  ASSERT_TRUE(batch.lag.has_value());
  EXPECT_EQ(batch.lag->missed(), 3u);
  EXPECT_EQ(batch.events.size(), 4u);
  BusStats stats = bus_->Stats();
  EXPECT_EQ(stats.published, 10u);
  EXPECT_EQ(stats.next_sequence, 11u);
  EXPECT_EQ(stats.oldest_sequence, 7u);
  EXPECT_EQ(stats.capacity, 12u);  // three lanes of 4
  EXPECT_EQ(stats.ring_events, 4u);
  EXPECT_EQ(stats.subscribers, 1u);
  EXPECT_EQ(stats.delivered, 7u);
  EXPECT_EQ(stats.missed, 3u);
  EXPECT_FALSE(stats.durable);
  // What a subscription counted stays in the totals after it leaves.
  reader.reset();
  auto late = Subscribe();
  Publish();
  ASSERT_EQ(Read(*late).events.size(), 1u);
  stats = bus_->Stats();
  EXPECT_EQ(stats.subscribers, 1u);
  EXPECT_EQ(stats.delivered, 8u);
  EXPECT_EQ(stats.missed, 3u);
}

TEST_F(BusTest, FilteredOutEventsAreNotCountedAsReceived) {
  v1::EventFilter filter;
  filter.add_types(v1::EVENT_TYPE_SPACE_NAME);
  auto reader =
      Subscribe({.matcher = *EventMatcher::Create(filter), .filter = filter});
  PublishN(2);  // audit events
  EXPECT_THAT(Read(*reader).events, IsEmpty());
  EXPECT_EQ(bus_->Stats().delivered, 0u);
  EXPECT_EQ(bus_->Subscribers().at(0).received, 0u);
  EXPECT_EQ(bus_->Subscribers().at(0).next_sequence, 3u);
}

TEST_F(BusTest, SubscribersDescribeEachSubscriptionOldestFirst) {
  v1::EventFilter filter;
  filter.add_types(v1::EVENT_TYPE_AUDIT);
  auto first = Subscribe({.overflow = Overflow::kDisconnect,
                          .name = "audit-monitor",
                          .peer = "ipv4:127.0.0.1:5000",
                          .filter = filter});
  now_ += absl::Seconds(1);
  PublishN(6);  // capacity 4: the first reader lags by 2 when it reads
  auto second = SubscribeFrom(5);
  ASSERT_EQ(Read(*second).events.size(), 2u);
  const std::vector<SubscriberSnapshot> subscribers = bus_->Subscribers();
  ASSERT_EQ(subscribers.size(), 2u);
  EXPECT_EQ(subscribers[0].name, "audit-monitor");
  EXPECT_EQ(subscribers[0].peer, "ipv4:127.0.0.1:5000");
  EXPECT_EQ(subscribers[0].start_time, absl::FromUnixMillis(1700000000123));
  EXPECT_EQ(subscribers[0].filter.types_size(), 1);
  EXPECT_EQ(subscribers[0].overflow, Overflow::kDisconnect);
  EXPECT_EQ(subscribers[0].next_sequence, 1u);
  EXPECT_EQ(subscribers[0].received, 0u);
  EXPECT_EQ(subscribers[1].name, "");
  EXPECT_EQ(subscribers[1].start_time,
            absl::FromUnixMillis(1700000000123) + absl::Seconds(1));
  EXPECT_EQ(subscribers[1].next_sequence, 7u);
  EXPECT_EQ(subscribers[1].received, 2u);
  first.reset();
  EXPECT_EQ(bus_->Subscribers().size(), 1u);
}

TEST_F(BusTest, CopiesOfTheHandleShareTheBus) {
  Bus copy = *bus_;
  auto sub = Subscribe();
  ASSERT_TRUE(copy.Publish(AuditEvent()).ok());
  EXPECT_THAT(Sequences(Read(*sub)), ElementsAre(1));
}

}  // namespace
}  // namespace eventbus

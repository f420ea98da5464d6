// The ring directly: sequence assignment, wrap-around and lag ranges,
// registration at each start, wakers, close and the subscriber count.
#include "server/bus/ring.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bus/stored_event.h"
#include "tests/server/bus/bus_test_util.h"
#include "tests/testing/status_matchers.h"

namespace eventbus {
namespace {

using ::eventbus::testing::AuditEvent;
using ::eventbus::testing::Sequences;
using ::eventbus::testing::StatusIs;
using ::testing::ElementsAre;

// An event encoded as the bus stores it: room for the assigned fields, then
// the body.
std::shared_ptr<StoredEvent> Stored(const std::string& resource_id = "r") {
  const std::string body = AuditEvent(resource_id).SerializeAsString();
  return std::make_shared<StoredEvent>(
      std::string(StoredEvent::kAssignedFieldsReserve, '\0') + body);
}

class CountingWaker final : public SubscriptionWaker {
 public:
  void OnReadable() override { ++wakes; }
  int wakes = 0;
};

class RingTest : public ::testing::Test {
 protected:
  explicit RingTest(uint64_t capacity = 4) : ring_(Options(capacity)) {}

  static BusOptions Options(uint64_t capacity) {
    BusOptions options;
    options.capacity = capacity;
    options.clock = [] { return absl::FromUnixSeconds(1700000000); };
    return options;
  }

  uint64_t Append(const std::string& resource_id = "r") {
    absl::StatusOr<PublishResult> result = ring_.Append(Stored(resource_id));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->sequence : 0;
  }

  ReadBatch Read(uint64_t* cursor, size_t max_events = 1024) {
    ReadBatch batch;
    ring_.Read(cursor, {.max_events = max_events, .max_bytes = 1 << 20},
               &batch);
    return batch;
  }

  Ring ring_;
};

TEST_F(RingTest, AssignsSequencesWithoutGapsAndTheClocksTime) {
  EXPECT_EQ(ring_.next_sequence(), 1u);
  EXPECT_EQ(Append(), 1u);
  EXPECT_EQ(Append(), 2u);
  EXPECT_EQ(ring_.next_sequence(), 3u);
  uint64_t cursor = *ring_.Register(SubscribeOptions::Start::kEarliest, 0);
  ReadBatch batch = Read(&cursor);
  ASSERT_THAT(Sequences(batch), ElementsAre(1, 2));
  EXPECT_EQ(batch.events[0]->event().publish_time().seconds(), 1700000000);
  EXPECT_EQ(cursor, 3u);
}

TEST_F(RingTest, WrapAroundReportsTheExactLostRange) {
  uint64_t cursor = *ring_.Register(SubscribeOptions::Start::kNext, 0);
  for (int i = 0; i < 10; ++i) Append();  // capacity 4 keeps 7..10
  ReadBatch batch = Read(&cursor);
  ASSERT_TRUE(batch.lag.has_value());
  EXPECT_EQ(*batch.lag, (Lag{.first_sequence = 1, .last_sequence = 6}));
  EXPECT_THAT(Sequences(batch), ElementsAre(7, 8, 9, 10));
  EXPECT_EQ(cursor, 11u);
}

TEST_F(RingTest, ReadStopsAtMaxEventsAndResumes) {
  uint64_t cursor = *ring_.Register(SubscribeOptions::Start::kNext, 0);
  for (int i = 0; i < 3; ++i) Append();
  EXPECT_THAT(Sequences(Read(&cursor, 2)), ElementsAre(1, 2));
  EXPECT_THAT(Sequences(Read(&cursor, 2)), ElementsAre(3));
  EXPECT_TRUE(Read(&cursor).empty());
}

TEST_F(RingTest, RegisterChecksTheStartSequence) {
  Append();
  Append();
  EXPECT_EQ(*ring_.Register(SubscribeOptions::Start::kNext, 0), 3u);
  EXPECT_EQ(*ring_.Register(SubscribeOptions::Start::kEarliest, 0), 1u);
  EXPECT_EQ(*ring_.Register(SubscribeOptions::Start::kSequence, 2), 2u);
  EXPECT_EQ(*ring_.Register(SubscribeOptions::Start::kSequence, 3), 3u);
  EXPECT_THAT(ring_.Register(SubscribeOptions::Start::kSequence, 4),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(ring_.Register(SubscribeOptions::Start::kSequence, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ring_.subscriber_count(), 4u);
  ring_.Unregister();
  EXPECT_EQ(ring_.subscriber_count(), 3u);
}

TEST_F(RingTest, ArmedWakerRunsOnceOnTheNextAppend) {
  uint64_t cursor = *ring_.Register(SubscribeOptions::Start::kNext, 0);
  auto waker = std::make_shared<CountingWaker>();
  EXPECT_TRUE(ring_.Arm(cursor, waker));
  Append();
  Append();
  EXPECT_EQ(waker->wakes, 1);
  // Something to read already: Arm refuses, the caller reads instead.
  EXPECT_FALSE(ring_.Arm(cursor, waker));
}

TEST_F(RingTest, AWakerThatIsGoneIsSkipped) {
  uint64_t cursor = *ring_.Register(SubscribeOptions::Start::kNext, 0);
  {
    auto waker = std::make_shared<CountingWaker>();
    EXPECT_TRUE(ring_.Arm(cursor, waker));
  }
  EXPECT_EQ(Append(), 1u);
}

TEST_F(RingTest, CloseRefusesAppendsAndEndsReadersAfterTheRest) {
  uint64_t cursor = *ring_.Register(SubscribeOptions::Start::kNext, 0);
  Append();
  auto waker = std::make_shared<CountingWaker>();
  uint64_t other = *ring_.Register(SubscribeOptions::Start::kNext, 0);
  EXPECT_TRUE(ring_.Arm(other, waker));
  ring_.Close();
  EXPECT_EQ(waker->wakes, 1);
  EXPECT_THAT(ring_.Append(Stored()), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ring_.Register(SubscribeOptions::Start::kNext, 0),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Sequences(Read(&cursor)), ElementsAre(1));
  EXPECT_TRUE(Read(&cursor).end_of_stream);
}

TEST_F(RingTest, AwaitReadableReturnsWhenAnEventArrives) {
  uint64_t cursor = *ring_.Register(SubscribeOptions::Start::kNext, 0);
  EXPECT_FALSE(ring_.AwaitReadable(cursor, absl::Now()));
  std::thread publisher([this] { Append(); });
  EXPECT_TRUE(ring_.AwaitReadable(cursor, absl::Now() + absl::Seconds(30)));
  publisher.join();
}

TEST_F(RingTest, AwaitNoSubscribersReturnsWhenTheLastLeaves) {
  ASSERT_TRUE(ring_.Register(SubscribeOptions::Start::kNext, 0).ok());
  EXPECT_FALSE(ring_.AwaitNoSubscribers(absl::Now()));
  std::thread leaver([this] { ring_.Unregister(); });
  EXPECT_TRUE(ring_.AwaitNoSubscribers(absl::Now() + absl::Seconds(30)));
  leaver.join();
}

}  // namespace
}  // namespace eventbus

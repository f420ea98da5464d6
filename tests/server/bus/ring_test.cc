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

  static SubscribeOptions Options(SubscribeOptions::Start start,
                                  uint64_t from_sequence = 0,
                                  Overflow overflow = Overflow::kDropOldest) {
    return SubscribeOptions{
        .start = start, .from_sequence = from_sequence, .overflow = overflow};
  }

  std::unique_ptr<RingReader> Register(
      SubscribeOptions::Start start, uint64_t from_sequence = 0,
      Overflow overflow = Overflow::kDropOldest) {
    absl::StatusOr<std::unique_ptr<RingReader>> reader =
        ring_.Register(Options(start, from_sequence, overflow));
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? *std::move(reader) : nullptr;
  }

  ReadBatch Read(RingReader* reader, size_t max_events = 1024) {
    ReadBatch batch;
    ring_.Read(reader, {.max_events = max_events, .max_bytes = 1 << 20},
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
  std::unique_ptr<RingReader> reader =
      Register(SubscribeOptions::Start::kEarliest);
  ReadBatch batch = Read(reader.get());
  ASSERT_THAT(Sequences(batch), ElementsAre(1, 2));
  EXPECT_EQ(batch.events[0]->event().publish_time().seconds(), 1700000000);
  EXPECT_EQ(ring_.CursorOf(reader.get()), 3u);
}

TEST_F(RingTest, WrapAroundReportsTheExactLostRange) {
  std::unique_ptr<RingReader> reader = Register(SubscribeOptions::Start::kNext);
  for (int i = 0; i < 10; ++i) Append();  // capacity 4 keeps 7..10
  ReadBatch batch = Read(reader.get());
  ASSERT_TRUE(batch.lag.has_value());
  EXPECT_EQ(*batch.lag, (Lag{.first_sequence = 1,
                             .last_sequence = 6,
                             .priority = v1::PRIORITY_NORMAL}));
  EXPECT_THAT(Sequences(batch), ElementsAre(7, 8, 9, 10));
  EXPECT_EQ(ring_.CursorOf(reader.get()), 11u);
}

TEST_F(RingTest, ReadStopsAtMaxEventsAndResumes) {
  std::unique_ptr<RingReader> reader = Register(SubscribeOptions::Start::kNext);
  for (int i = 0; i < 3; ++i) Append();
  EXPECT_THAT(Sequences(Read(reader.get(), 2)), ElementsAre(1, 2));
  EXPECT_THAT(Sequences(Read(reader.get(), 2)), ElementsAre(3));
  EXPECT_TRUE(Read(reader.get()).empty());
}

TEST_F(RingTest, RegisterChecksTheStartSequence) {
  Append();
  Append();
  auto next = Register(SubscribeOptions::Start::kNext);
  EXPECT_EQ(ring_.CursorOf(next.get()), 3u);
  auto earliest = Register(SubscribeOptions::Start::kEarliest);
  EXPECT_EQ(ring_.CursorOf(earliest.get()), 1u);
  auto two = Register(SubscribeOptions::Start::kSequence, 2);
  EXPECT_EQ(ring_.CursorOf(two.get()), 2u);
  auto three = Register(SubscribeOptions::Start::kSequence, 3);
  EXPECT_EQ(ring_.CursorOf(three.get()), 3u);
  EXPECT_THAT(ring_.Register(Options(SubscribeOptions::Start::kSequence, 4,
                                     Overflow::kDropOldest)),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(ring_.Register(Options(SubscribeOptions::Start::kSequence, 0,
                                     Overflow::kDropOldest)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ring_.subscriber_count(), 4u);
  ring_.Unregister(three.get());
  EXPECT_EQ(ring_.subscriber_count(), 3u);
}

TEST_F(RingTest, ArmedWakerRunsOnceOnTheNextAppend) {
  std::unique_ptr<RingReader> reader = Register(SubscribeOptions::Start::kNext);
  auto waker = std::make_shared<CountingWaker>();
  EXPECT_TRUE(ring_.Arm(reader.get(), waker));
  Append();
  Append();
  EXPECT_EQ(waker->wakes, 1);
  // Something to read already: Arm refuses, the caller reads instead.
  EXPECT_FALSE(ring_.Arm(reader.get(), waker));
}

TEST_F(RingTest, AWakerThatIsGoneIsSkipped) {
  std::unique_ptr<RingReader> reader = Register(SubscribeOptions::Start::kNext);
  {
    auto waker = std::make_shared<CountingWaker>();
    EXPECT_TRUE(ring_.Arm(reader.get(), waker));
  }
  EXPECT_EQ(Append(), 1u);
}

TEST_F(RingTest, CloseRefusesAppendsAndEndsReadersAfterTheRest) {
  std::unique_ptr<RingReader> reader = Register(SubscribeOptions::Start::kNext);
  Append();
  auto waker = std::make_shared<CountingWaker>();
  std::unique_ptr<RingReader> other = Register(SubscribeOptions::Start::kNext);
  EXPECT_TRUE(ring_.Arm(other.get(), waker));
  ring_.Close();
  EXPECT_EQ(waker->wakes, 1);
  EXPECT_THAT(ring_.Append(Stored()), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ring_.Register(Options(SubscribeOptions::Start::kNext, 0,
                                     Overflow::kDropOldest)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Sequences(Read(reader.get())), ElementsAre(1));
  EXPECT_TRUE(Read(reader.get()).end_of_stream);
}

TEST_F(RingTest, AwaitReadableReturnsWhenAnEventArrives) {
  std::unique_ptr<RingReader> reader = Register(SubscribeOptions::Start::kNext);
  EXPECT_FALSE(ring_.AwaitReadable(reader.get(), absl::Now()));
  std::thread publisher([this] { Append(); });
  EXPECT_TRUE(
      ring_.AwaitReadable(reader.get(), absl::Now() + absl::Seconds(30)));
  publisher.join();
}

TEST_F(RingTest, AwaitNoSubscribersReturnsWhenTheLastLeaves) {
  std::unique_ptr<RingReader> reader = Register(SubscribeOptions::Start::kNext);
  EXPECT_FALSE(ring_.AwaitNoSubscribers(absl::Now()));
  std::thread leaver([&] { ring_.Unregister(reader.get()); });
  EXPECT_TRUE(ring_.AwaitNoSubscribers(absl::Now() + absl::Seconds(30)));
  leaver.join();
}

}  // namespace
}  // namespace eventbus

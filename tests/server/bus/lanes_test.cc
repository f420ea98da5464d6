// The ring's priority lanes: separate retention per priority, global order
// while keeping up, 4:2:1 while behind, exact per-lane losses, resume and
// holding back per lane.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

constexpr v1::Priority kHigh = v1::PRIORITY_HIGH;
constexpr v1::Priority kNormal = v1::PRIORITY_NORMAL;
constexpr v1::Priority kLow = v1::PRIORITY_LOW;

class LanesTest : public ::testing::Test {
 protected:
  void MakeBus(uint64_t high, uint64_t normal, uint64_t low) {
    BusOptions options;
    options.capacity = normal;
    options.lanes = {.high = high, .low = low};
    options.max_block = absl::Milliseconds(50);
    bus_ = std::make_unique<Bus>(*Bus::Create(options));
  }

  // Publishes one event of `priority` and remembers its lane.
  uint64_t Publish(v1::Priority priority) {
    v1::Event event = AuditEvent();
    event.set_priority(priority);
    auto result = bus_->Publish(event);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return 0;
    // Unspecified is NORMAL.
    lane_of_[result->sequence] =
        priority == v1::PRIORITY_UNSPECIFIED ? v1::PRIORITY_NORMAL : priority;
    return result->sequence;
  }
  std::unique_ptr<Subscription> Subscribe(SubscribeOptions options = {}) {
    auto subscription = bus_->Subscribe(std::move(options));
    EXPECT_TRUE(subscription.ok()) << subscription.status();
    return subscription.ok() ? std::move(*subscription) : nullptr;
  }
  std::unique_ptr<Subscription> SubscribeFrom(uint64_t sequence) {
    return Subscribe({.start = SubscribeOptions::Start::kSequence,
                      .from_sequence = sequence});
  }
  static ReadBatch Read(Subscription& subscription, ReadLimits limits = {}) {
    ReadBatch batch;
    subscription.TryRead(limits, &batch);
    return batch;
  }

  // What a reader got from one lane, or from all.
  struct Received {
    std::vector<uint64_t> sequences;  // in the order received
    std::vector<Lag> lags;
  };
  // Reads until a read finds nothing.
  static Received Drain(Subscription& subscription, ReadLimits limits = {}) {
    Received received;
    while (true) {
      ReadBatch batch = Read(subscription, limits);
      if (batch.empty()) return received;
      if (batch.lag) received.lags.push_back(*batch.lag);
      for (uint64_t sequence : Sequences(batch)) {
        received.sequences.push_back(sequence);
      }
    }
  }

  // Checks that, from `from` on, what was received and what the lags say
  // was lost tile every lane exactly: each event of a lane is either
  // received once or inside one of that lane's lags (or an all-lane lag),
  // and the missed counts match.
  void ExpectTiles(const Received& received, uint64_t from) {
    std::set<uint64_t> got(received.sequences.begin(),
                           received.sequences.end());
    EXPECT_EQ(got.size(), received.sequences.size()) << "a duplicate";
    std::map<v1::Priority, uint64_t> published, delivered, missed;
    for (const auto& [sequence, lane] : lane_of_) {
      if (sequence < from) continue;
      ++published[lane];
      if (got.contains(sequence)) ++delivered[lane];
    }
    for (const Lag& lag : received.lags) {
      uint64_t lost_here = 0;
      for (const auto& [sequence, lane] : lane_of_) {
        if (sequence < lag.first_sequence || sequence > lag.last_sequence) {
          continue;
        }
        if (lag.priority != v1::PRIORITY_UNSPECIFIED && lane != lag.priority) {
          continue;
        }
        EXPECT_FALSE(got.contains(sequence))
            << sequence << " was received and told lost";
        ++lost_here;
        ++missed[lane];
      }
      EXPECT_EQ(lag.missed(), lost_here)
          << lag.first_sequence << ".." << lag.last_sequence << " of "
          << v1::Priority_Name(lag.priority);
    }
    for (const auto& [lane, count] : published) {
      EXPECT_EQ(delivered[lane] + missed[lane], count)
          << v1::Priority_Name(lane) << ": " << delivered[lane] << " received, "
          << missed[lane] << " missed";
    }
    // Ascending within each lane.
    std::map<v1::Priority, uint64_t> last;
    for (uint64_t sequence : received.sequences) {
      const v1::Priority lane = lane_of_.at(sequence);
      EXPECT_GT(sequence, last[lane]) << v1::Priority_Name(lane);
      last[lane] = sequence;
    }
  }

  std::unique_ptr<Bus> bus_;
  std::map<uint64_t, v1::Priority> lane_of_;
};

TEST_F(LanesTest, AFloodOfLowDoesNotEvictHigh) {
  MakeBus(/*high=*/4, /*normal=*/4, /*low=*/4);
  auto paused = Subscribe();
  const uint64_t denied = Publish(kHigh);
  for (int i = 0; i < 1000; ++i) Publish(kLow);
  const Received received = Drain(*paused);
  // The lost LOW events first (one lag: every LOW event from where the
  // reader was), then the HIGH one and the LOW ones left.
  ASSERT_EQ(received.lags.size(), 1u);
  EXPECT_EQ(received.lags[0], (Lag{.first_sequence = 1,
                                   .last_sequence = 997,
                                   .priority = kLow,
                                   .events = 996}));
  EXPECT_THAT(received.sequences, ElementsAre(denied, 998, 999, 1000, 1001));
  ExpectTiles(received, 1);
  // A newcomer from the start finds it too.
  auto late = SubscribeFrom(1);
  const Received again = Drain(*late);
  EXPECT_THAT(again.sequences, ElementsAre(denied, 998, 999, 1000, 1001));
  ExpectTiles(again, 1);
}

TEST_F(LanesTest, UnsetPriorityIsTheNormalLane) {
  MakeBus(/*high=*/2, /*normal=*/3, /*low=*/2);
  auto paused = Subscribe();
  for (int i = 0; i < 5; ++i) Publish(v1::PRIORITY_UNSPECIFIED);
  const Received received = Drain(*paused);
  ASSERT_EQ(received.lags.size(), 1u);
  EXPECT_EQ(received.lags[0], (Lag{1, 2, kNormal}));
  EXPECT_THAT(received.sequences, ElementsAre(3, 4, 5));
}

TEST_F(LanesTest, APausedSubscriberTilesEveryLaneExactly) {
  MakeBus(/*high=*/3, /*normal=*/5, /*low=*/2);
  auto paused = Subscribe();
  // A mix in an uneven pattern, several times each lane's capacity.
  const v1::Priority pattern[] = {kLow,
                                  kNormal,
                                  kLow,
                                  kHigh,
                                  kLow,
                                  kNormal,
                                  kLow,
                                  kLow,
                                  kNormal,
                                  kHigh,
                                  v1::PRIORITY_UNSPECIFIED};
  for (int i = 0; i < 200; ++i) Publish(pattern[(i * 7) % 11]);
  const Received received = Drain(*paused);
  ExpectTiles(received, 1);
  // Each lane lost something and kept exactly its capacity.
  std::map<v1::Priority, int> kept;
  for (uint64_t sequence : received.sequences) ++kept[lane_of_[sequence]];
  EXPECT_EQ(kept[kHigh], 3);
  EXPECT_EQ(kept[kNormal], 5);
  EXPECT_EQ(kept[kLow], 2);
  std::set<v1::Priority> lagged;
  for (const Lag& lag : received.lags) lagged.insert(lag.priority);
  EXPECT_EQ(lagged, (std::set<v1::Priority>{kHigh, kNormal, kLow}));
  EXPECT_EQ(received.lags.front().priority, kHigh) << "most urgent first";
}

TEST_F(LanesTest, KeepingUpReadsInGlobalOrder) {
  MakeBus(/*high=*/64, /*normal=*/64, /*low=*/64);
  auto reader = Subscribe();
  std::vector<uint64_t> published, received;
  for (int i = 0; i < 300; ++i) {
    published.push_back(Publish(i % 3 == 0   ? kHigh
                                : i % 3 == 1 ? kLow
                                             : kNormal));
    if (i % 5 == 4) {
      // A few events behind, within one read: merged in sequence order.
      for (uint64_t sequence : Drain(*reader, {.max_events = 8}).sequences) {
        received.push_back(sequence);
      }
    }
  }
  EXPECT_EQ(received, published);
}

TEST_F(LanesTest, BehindReadsFourHighTwoNormalOneLow) {
  MakeBus(/*high=*/1000, /*normal=*/1000, /*low=*/1000);
  auto reader = Subscribe();
  // The oldest first: LOW, then NORMAL, then HIGH.
  for (int i = 0; i < 100; ++i) Publish(kLow);
  for (int i = 0; i < 100; ++i) Publish(kNormal);
  for (int i = 0; i < 100; ++i) Publish(kHigh);
  std::string lanes;
  Received all;
  for (int i = 0; i < 10; ++i) {
    const ReadBatch batch = Read(*reader, {.max_events = 7});
    ASSERT_FALSE(batch.lag.has_value());
    for (uint64_t sequence : Sequences(batch)) {
      lanes += v1::Priority_Name(lane_of_[sequence])[9];  // H, N or L
      all.sequences.push_back(sequence);
    }
  }
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += "HNHLHNH";
  EXPECT_EQ(lanes, expected);
  // The rest, still ascending within each lane, and nothing lost.
  Received rest = Drain(*reader, {.max_events = 7});
  EXPECT_TRUE(rest.lags.empty());
  EXPECT_EQ(rest.sequences.size(), 300u - 70u);
  all.sequences.insert(all.sequences.end(), rest.sequences.begin(),
                       rest.sequences.end());
  ExpectTiles(all, 1);
}

TEST_F(LanesTest, BehindAfterCatchingUpTheOrderIsGlobalAgain) {
  MakeBus(/*high=*/100, /*normal=*/100, /*low=*/100);
  auto reader = Subscribe();
  for (int i = 0; i < 50; ++i) Publish(i % 2 == 0 ? kLow : kHigh);
  Drain(*reader, {.max_events = 4});
  std::vector<uint64_t> published;
  for (int i = 0; i < 4; ++i)
    published.push_back(Publish(i < 2 ? kLow : kHigh));
  EXPECT_EQ(Drain(*reader, {.max_events = 4}).sequences, published);
}

TEST_F(LanesTest, ResumeFromASequenceAppliesToEveryLane) {
  MakeBus(/*high=*/50, /*normal=*/4, /*low=*/4);
  for (int i = 0; i < 60; ++i) {
    Publish(i % 10 == 0 ? kHigh : i % 2 == 0 ? kNormal : kLow);
  }
  // From 5: HIGH keeps 11, 21, ...; NORMAL and LOW lost most of theirs.
  for (uint64_t from : {1, 5, 11, 12, 40, 55, 60, 61}) {
    auto resumed = SubscribeFrom(from);
    const Received received = Drain(*resumed);
    ExpectTiles(received, from);
    for (uint64_t sequence : received.sequences) {
      EXPECT_GE(sequence, from);
    }
  }
  // From 1: the first event, HIGH, is retained, so every loss is per lane.
  auto from_one = SubscribeFrom(1);
  const std::vector<Lag> lags = Drain(*from_one).lags;
  ASSERT_EQ(lags.size(), 2u);  // NORMAL's and LOW's
  for (const Lag& lag : lags) {
    EXPECT_NE(lag.priority, v1::PRIORITY_UNSPECIFIED);
  }
  // From 2 (a LOW event, lost): 2..10 are lost whatever their lane,
  // told as one range, then the lanes from 11 on.
  auto from_two = SubscribeFrom(2);
  const Received two = Drain(*from_two);
  ASSERT_FALSE(two.lags.empty());
  EXPECT_EQ(two.lags[0], (Lag{2, 10}));
}

TEST_F(LanesTest, EarliestStartsAtEveryLanesOldestWithoutALoss) {
  MakeBus(/*high=*/2, /*normal=*/2, /*low=*/2);
  for (int i = 0; i < 30; ++i) Publish(i < 3 ? kHigh : kLow);
  auto reader = Subscribe({.start = SubscribeOptions::Start::kEarliest});
  const Received received = Drain(*reader);
  EXPECT_TRUE(received.lags.empty());
  EXPECT_THAT(received.sequences, ElementsAre(2, 3, 29, 30));
  EXPECT_EQ(bus_->oldest_sequence(), 2u);
}

// A PublishWaiter that counts its calls.
class CountingWaiter final : public PublishWaiter {
 public:
  void OnMayPublish() override { ++calls; }
  std::atomic<int> calls{0};
};

TEST_F(LanesTest, ABlockingSubscriberHoldsOnlyTheLaneItHasNotRead) {
  MakeBus(/*high=*/100, /*normal=*/100, /*low=*/2);
  auto holder = Subscribe({.overflow = Overflow::kBlock});
  Publish(kLow);
  Publish(kLow);
  // LOW is full of events the holder has not read; NORMAL has room.
  for (int i = 0; i < 3; ++i) Publish(kNormal);
  v1::Event low = AuditEvent();
  low.set_priority(kLow);
  absl::StatusOr<PreparedEvent> prepared = bus_->Prepare(low);
  ASSERT_TRUE(prepared.ok());
  auto waiter = std::make_shared<CountingWaiter>();
  absl::StatusOr<PublishAttempt> attempt = bus_->TryPublish(&*prepared, waiter);
  ASSERT_TRUE(attempt.ok());
  EXPECT_FALSE(attempt->published.has_value()) << "LOW is held";
  // Behind (5 unread, 1 per read): NORMAL first; that makes no room in LOW.
  EXPECT_THAT(Sequences(Read(*holder, {.max_events = 1})), ElementsAre(3));
  EXPECT_EQ(waiter->calls, 0);
  // Then LOW's turn: the room its publisher waits for.
  EXPECT_THAT(Sequences(Read(*holder, {.max_events = 1})), ElementsAre(1));
  EXPECT_EQ(waiter->calls, 1);
  attempt = bus_->TryPublish(&*prepared, waiter);
  ASSERT_TRUE(attempt.ok());
  EXPECT_TRUE(attempt->published.has_value());
}

TEST_F(LanesTest, ALaneHeldTooLongEndsItsHolderWhileOthersPublish) {
  // max_block 50ms; NORMAL large enough never to be held.
  MakeBus(/*high=*/4, /*normal=*/1000000, /*low=*/2);
  auto holder = Subscribe({.overflow = Overflow::kBlock});
  Publish(kLow);
  Publish(kLow);
  v1::Event low = AuditEvent();
  low.set_priority(kLow);
  absl::StatusOr<PreparedEvent> prepared = bus_->Prepare(low);
  ASSERT_TRUE(prepared.ok());
  // The LOW publisher keeps waiting (a live waiter): its hold lasts.
  auto waiter = std::make_shared<CountingWaiter>();
  const absl::Time start = absl::Now();
  bool published = false;
  // NORMAL publishes go on meanwhile: they do not restart LOW's hold.
  while (!published && absl::Now() < start + absl::Seconds(5)) {
    Publish(kNormal);
    absl::StatusOr<PublishAttempt> attempt =
        bus_->TryPublish(&*prepared, waiter);
    ASSERT_TRUE(attempt.ok());
    published = attempt->published.has_value();
  }
  ASSERT_TRUE(published) << "the LOW hold was never ended";
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  // Ended by max_block, not because NORMAL filled up and held too.
  EXPECT_LT(bus_->Stats().lane_events[1], 1000000u);  // NORMAL
  ReadBatch batch = Read(*holder);
  EXPECT_THAT(batch.ended, StatusIs(absl::StatusCode::kResourceExhausted,
                                    HasSubstr("held publishers back")));
}

TEST_F(LanesTest, PositionAndLossStartAfterWhatWasRead) {
  MakeBus(/*high=*/8, /*normal=*/8, /*low=*/2);
  auto dropping = Subscribe();
  auto disconnecting = Subscribe({.overflow = Overflow::kDisconnect});
  for (int i = 0; i < 5; ++i) Publish(kNormal);
  EXPECT_EQ(Drain(*dropping).sequences.size(), 5u);
  EXPECT_EQ(Drain(*disconnecting).sequences.size(), 5u);
  EXPECT_EQ(dropping->cursor(), 6u);
  for (int i = 0; i < 3; ++i) Publish(kLow);  // 6 is overwritten
  const Received received = Drain(*dropping);
  ASSERT_EQ(received.lags.size(), 1u);
  EXPECT_EQ(received.lags[0], (Lag{6, 6, kLow}));
  EXPECT_THAT(received.sequences, ElementsAre(7, 8));
  EXPECT_EQ(dropping->cursor(), 9u);
  EXPECT_THAT(Read(*disconnecting).ended,
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("resume from sequence 6")));
}

TEST_F(LanesTest, ReadingWhileBehindAndLappedStillTilesEveryLane) {
  MakeBus(/*high=*/5, /*normal=*/7, /*low=*/3);
  auto reader = Subscribe();
  const v1::Priority pattern[] = {kLow, kLow, kNormal, kHigh, kLow, kNormal};
  Received all;
  for (int i = 0; i < 600; ++i) {
    Publish(pattern[(i * 5) % 6]);
    if (i % 9 == 0) {
      // Small reads: behind (weighted) most of the time, and lapped.
      for (int r = 0; r < 2; ++r) {
        ReadBatch batch = Read(*reader, {.max_events = 2});
        if (batch.lag) all.lags.push_back(*batch.lag);
        for (uint64_t sequence : Sequences(batch)) {
          all.sequences.push_back(sequence);
        }
      }
    }
  }
  Received rest = Drain(*reader, {.max_events = 2});
  all.lags.insert(all.lags.end(), rest.lags.begin(), rest.lags.end());
  all.sequences.insert(all.sequences.end(), rest.sequences.begin(),
                       rest.sequences.end());
  EXPECT_GT(all.lags.size(), 3u);
  ExpectTiles(all, 1);
}

TEST_F(LanesTest, DisconnectNamesTheLaneAndItsKey) {
  BusOptions options;
  options.capacity = 8;
  options.lanes.low = 2;
  bus_ = std::make_unique<Bus>(*Bus::Create(options));
  auto reader = Subscribe({.overflow = Overflow::kDisconnect});
  for (int i = 0; i < 3; ++i) Publish(kLow);
  const ReadBatch batch = Read(*reader);
  EXPECT_THAT(batch.ended, StatusIs(absl::StatusCode::kResourceExhausted,
                                    HasSubstr("bus.lanes.low.capacity (2) "
                                              "PRIORITY_LOW events behind")));
  EXPECT_THAT(batch.ended, StatusIs(absl::StatusCode::kResourceExhausted,
                                    HasSubstr("resume from sequence 1")));
}

TEST_F(LanesTest, StatsAddTheLanesUp) {
  MakeBus(/*high=*/2, /*normal=*/3, /*low=*/4);
  Publish(kHigh);
  Publish(kLow);
  const BusStats stats = bus_->Stats();
  EXPECT_EQ(stats.capacity, 9u);
  EXPECT_EQ(stats.ring_events, 2u);
}

TEST_F(LanesTest, CreateRejectsALaneCapacityOutOfRange) {
  BusOptions options;
  options.lanes.high = BusOptions::kMaxCapacity + 1;
  EXPECT_THAT(Bus::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the high lane's capacity")));
}

}  // namespace
}  // namespace eventbus

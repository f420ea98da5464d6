// The bus over a durable log: what an acknowledgement means in each fsync
// mode, readers behind the ring reading from disk, retention losses, and
// a log that fails under it (FaultFileSystem).
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bus/bus.h"
#include "server/storage/log.h"
#include "tests/server/bus/bus_test_util.h"
#include "tests/server/storage/fault_file_system.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::AuditEvent;
using ::eventbus::testing::FaultFileSystem;
using ::eventbus::testing::IsOk;
using ::eventbus::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(10);

// A PublishWaiter that notifies once it is called.
class NotifiedWaiter final : public PublishWaiter {
 public:
  void OnMayPublish() override {
    if (!woken.HasBeenNotified()) woken.Notify();
  }
  absl::Notification woken;
};

class DurableBusTest : public ::testing::Test {
 protected:
  std::shared_ptr<Log> OpenLog() {
    LogOptions options{.path = dir_.Path("log"),
                       .segment_bytes = LogOptions::kMinSegmentBytes,
                       .max_events = max_events_,
                       .fs = &fs_};
    LogRecovery recovery;
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, &recovery);
    EXPECT_THAT(log, IsOk());
    return log.ok() ? std::shared_ptr<Log>(*std::move(log)) : nullptr;
  }

  Bus MakeBus(StorageOptions::Fsync fsync = StorageOptions::Fsync::kAlways,
              uint64_t capacity = 1024) {
    BusOptions options{.capacity = capacity};
    options.storage = StorageOptions{.log = OpenLog(),
                                     .fsync = fsync,
                                     .retention_period = retention_period_};
    options.storage.on_retention = [this](const absl::StatusOr<int>&,
                                          uint64_t oldest) {
      MutexLock lock(&retention_mu_);
      retained_from_ = oldest;
      retained_.SignalAll();
    };
    absl::StatusOr<Bus> bus = Bus::Create(std::move(options));
    EXPECT_THAT(bus, IsOk());
    return *std::move(bus);
  }

  static std::unique_ptr<Subscription> Subscribe(
      const Bus& bus, SubscribeOptions::Start start,
      Overflow overflow = Overflow::kDropOldest) {
    absl::StatusOr<std::unique_ptr<Subscription>> subscription =
        bus.Subscribe(SubscribeOptions{.start = start, .overflow = overflow});
    EXPECT_THAT(subscription, IsOk());
    return *std::move(subscription);
  }

  // Reads until `count` events came or the stream ended; returns their
  // sequences and collects lags into `*lags`.
  static std::vector<uint64_t> ReadEvents(Subscription* subscription,
                                          size_t count,
                                          std::vector<Lag>* lags = nullptr,
                                          absl::Status* ended = nullptr) {
    std::vector<uint64_t> sequences;
    const absl::Time deadline = absl::Now() + kDeadline;
    ReadBatch batch;
    while (sequences.size() < count && absl::Now() < deadline) {
      subscription->Read(deadline, ReadLimits{}, &batch);
      if (batch.lag && lags != nullptr) lags->push_back(*batch.lag);
      for (const auto& event : batch.events) {
        EXPECT_EQ(event->event().sequence(), event->sequence());
        sequences.push_back(event->sequence());
      }
      if (!batch.ended.ok() || batch.end_of_stream) {
        if (ended != nullptr) *ended = batch.ended;
        break;
      }
    }
    return sequences;
  }

  static std::vector<uint64_t> Range(uint64_t first, uint64_t end) {
    std::vector<uint64_t> range;
    for (uint64_t s = first; s < end; ++s) range.push_back(s);
    return range;
  }

  testing::TempDir dir_{"eventbus-durable-bus"};
  FaultFileSystem fs_;
  uint64_t max_events_ = 0;
  absl::Duration retention_period_ = absl::Seconds(1);
  // What the buses' retention passes reported (on_retention).
  Mutex retention_mu_;
  CondVar retained_{&retention_mu_};
  uint64_t retained_from_ ABSL_GUARDED_BY(retention_mu_) = 0;
};

TEST_F(DurableBusTest, EventsAndNumberingSurviveARestartByteForByte) {
  std::vector<std::string> encoded;
  {
    Bus bus = MakeBus();
    for (int i = 0; i < 10; ++i) {
      absl::StatusOr<PublishResult> published = bus.Publish(AuditEvent());
      ASSERT_THAT(published, IsOk());
      EXPECT_EQ(published->sequence, static_cast<uint64_t>(i + 1));
      EXPECT_TRUE(published->stored);
    }
    auto subscription = Subscribe(bus, SubscribeOptions::Start::kEarliest);
    ReadBatch batch;
    subscription->Read(absl::Now() + kDeadline, ReadLimits{}, &batch);
    for (const auto& event : batch.events) {
      encoded.emplace_back(event->encoded());
    }
    ASSERT_EQ(encoded.size(), 10u);
    subscription.reset();
    ASSERT_THAT(bus.CloseStorage(), IsOk());
  }
  Bus bus = MakeBus();
  EXPECT_EQ(bus.next_sequence(), 11u);
  EXPECT_EQ(bus.oldest_sequence(), 1u);
  auto subscription = Subscribe(bus, SubscribeOptions::Start::kEarliest);
  ReadBatch batch;
  subscription->Read(absl::Now() + kDeadline, ReadLimits{}, &batch);
  ASSERT_EQ(batch.events.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(batch.events[i]->encoded(), encoded[i]);
  }
  EXPECT_THAT(bus.Publish(AuditEvent()), testing::IsOkAndHolds(::testing::Field(
                                             &PublishResult::sequence, 11u)));
}

TEST_F(DurableBusTest, AReaderBehindTheRingReadsTheLogWithoutALag) {
  Bus bus = MakeBus(StorageOptions::Fsync::kAlways, /*capacity=*/16);
  auto paused = Subscribe(bus, SubscribeOptions::Start::kNext);
  auto blocking =
      Subscribe(bus, SubscribeOptions::Start::kNext, Overflow::kBlock);
  for (int i = 0; i < 5000; ++i) ASSERT_THAT(bus.Publish(AuditEvent()), IsOk());
  EXPECT_EQ(bus.blocked_publishers(), 0u);  // nobody held publishing back
  for (Subscription* reader : {paused.get(), blocking.get()}) {
    std::vector<Lag> lags;
    EXPECT_EQ(ReadEvents(reader, 5000, &lags), Range(1, 5001));
    EXPECT_TRUE(lags.empty());
  }
}

TEST_F(DurableBusTest, WithLanesAReaderBehindReadsEverythingInGlobalOrder) {
  // Small lanes of different sizes: LOW laps often, HIGH rarely.
  BusOptions options{.capacity = 8, .lanes = {.high = 64, .low = 4}};
  options.storage = StorageOptions{.log = OpenLog()};
  absl::StatusOr<Bus> created = Bus::Create(std::move(options));
  ASSERT_THAT(created, IsOk());
  Bus& bus = *created;
  auto paused = Subscribe(bus, SubscribeOptions::Start::kNext);
  auto keeping_up = Subscribe(bus, SubscribeOptions::Start::kNext);
  std::vector<uint64_t> kept_up;
  for (int i = 0; i < 600; ++i) {
    v1::Event event = AuditEvent();
    event.set_priority(i % 5 == 0   ? v1::PRIORITY_HIGH
                       : i % 5 == 1 ? v1::PRIORITY_NORMAL
                                    : v1::PRIORITY_LOW);
    ASSERT_THAT(bus.Publish(event), IsOk());
    if (i % 3 == 2) {
      for (uint64_t sequence : ReadEvents(keeping_up.get(), 3)) {
        kept_up.push_back(sequence);
      }
    }
  }
  EXPECT_EQ(kept_up, Range(1, 601));
  std::vector<Lag> lags;
  EXPECT_EQ(ReadEvents(paused.get(), 600, &lags), Range(1, 601));
  EXPECT_TRUE(lags.empty());
  // And from the start, once more, from the log and the ring.
  absl::StatusOr<std::unique_ptr<Subscription>> again = bus.Subscribe(
      {.start = SubscribeOptions::Start::kSequence, .from_sequence = 1});
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(ReadEvents(again->get(), 600, &lags), Range(1, 601));
  EXPECT_TRUE(lags.empty());
}

TEST_F(DurableBusTest, WhatRetentionRemovedIsTheOnlyLossAndIsReported) {
  max_events_ = 100;
  retention_period_ = absl::Milliseconds(1);
  Bus bus = MakeBus(StorageOptions::Fsync::kInterval, /*capacity=*/16);
  auto behind = Subscribe(bus, SubscribeOptions::Start::kNext);
  auto disconnect =
      Subscribe(bus, SubscribeOptions::Start::kNext, Overflow::kDisconnect);
  const std::string big(900, 'x');
  v1::Event event = AuditEvent();
  event.mutable_audit()->set_resource_id(big);
  for (int i = 0; i < 1000; ++i) ASSERT_THAT(bus.Publish(event), IsOk());
  // The committer applies retention within a millisecond or so, and says
  // so through on_retention.
  {
    const absl::Time deadline = absl::Now() + kDeadline;
    MutexLock lock(&retention_mu_);
    while (retained_from_ < 800 && retained_.WaitUntil(deadline)) {
    }
  }
  const uint64_t oldest = bus.oldest_sequence();
  ASSERT_GE(oldest, 800u);
  std::vector<Lag> lags;
  const std::vector<uint64_t> read =
      ReadEvents(behind.get(), 1001 - oldest, &lags);
  ASSERT_EQ(lags.size(), 1u);
  EXPECT_EQ(lags[0], (Lag{1, oldest - 1}));
  EXPECT_EQ(read, Range(oldest, 1001));
  absl::Status ended;
  EXPECT_TRUE(ReadEvents(disconnect.get(), 1, nullptr, &ended).empty());
  EXPECT_THAT(ended,
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("storage retention removed sequences 1..")));
}

TEST_F(DurableBusTest, AlwaysAnswersOnlyOnceSyncedAndShowsNothingBefore) {
  Bus bus = MakeBus(StorageOptions::Fsync::kAlways);
  absl::StatusOr<PreparedEvent> prepared = bus.Prepare(AuditEvent());
  ASSERT_THAT(prepared, IsOk());
  const uint64_t syncs = fs_.syncs();
  absl::StatusOr<PublishAttempt> attempt = bus.TryPublish(&*prepared, {});
  ASSERT_THAT(attempt, IsOk());
  ASSERT_TRUE(attempt->published);
  // Published: stored once the committer synced it, which wakes the
  // waiter (unless it was stored already).
  auto waiter = std::make_shared<NotifiedWaiter>();
  absl::StatusOr<bool> stored =
      bus.AwaitStored(attempt->published->sequence, waiter);
  ASSERT_THAT(stored, IsOk());
  if (!*stored) {
    ASSERT_TRUE(waiter->woken.WaitForNotificationWithTimeout(kDeadline));
  }
  EXPECT_TRUE(*bus.AwaitStored(attempt->published->sequence, {}));
  EXPECT_GT(fs_.syncs(), syncs);
}

TEST_F(DurableBusTest, AFailedSyncAnswersUnavailableAndHidesTheEvent) {
  Bus bus = MakeBus(StorageOptions::Fsync::kAlways);
  ASSERT_THAT(bus.Publish(AuditEvent()), IsOk());
  auto subscription = Subscribe(bus, SubscribeOptions::Start::kEarliest);
  fs_.FailSync(1, EIO);
  EXPECT_THAT(bus.Publish(AuditEvent()),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("sequence 2 was not stored")));
  EXPECT_THAT(bus.Publish(AuditEvent()),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("until eventbusd restarts")));
  bus.Close();
  // The stored event, then the end: never the one the disk may not have.
  EXPECT_EQ(ReadEvents(subscription.get(), 5), Range(1, 2));
}

TEST_F(DurableBusTest, AFullDiskRefusesPublishesUntilThereIsRoom) {
  Bus bus = MakeBus(StorageOptions::Fsync::kAlways);
  ASSERT_THAT(bus.Publish(AuditEvent()), IsOk());
  fs_.SetNoSpace(true);
  EXPECT_THAT(bus.Publish(AuditEvent()),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("No space left on device")));
  EXPECT_EQ(bus.next_sequence(), 2u);
  fs_.SetNoSpace(false);
  EXPECT_THAT(bus.Publish(AuditEvent()), testing::IsOkAndHolds(::testing::Field(
                                             &PublishResult::sequence, 2u)));
}

TEST_F(DurableBusTest, ADrainDeliversEverythingAcceptedBeforeTheEnd) {
  Bus bus = MakeBus(StorageOptions::Fsync::kAlways);
  auto subscription = Subscribe(bus, SubscribeOptions::Start::kNext);
  std::vector<PreparedEvent> prepared;
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<PreparedEvent> event = bus.Prepare(AuditEvent());
    ASSERT_THAT(event, IsOk());
    ASSERT_THAT(bus.TryPublish(&*event, {}), IsOk());
  }
  bus.Close();
  absl::Status ended;
  EXPECT_EQ(ReadEvents(subscription.get(), 1000, nullptr, &ended),
            Range(1, 201));
  EXPECT_THAT(ended, IsOk());
  EXPECT_THAT(bus.CloseStorage(), IsOk());
}

TEST_F(DurableBusTest, IntervalAndNeverAnswerAfterTheWrite) {
  for (auto fsync :
       {StorageOptions::Fsync::kInterval, StorageOptions::Fsync::kNever}) {
    testing::TempDir dir("eventbus-durable-mode");
    BusOptions options;
    LogRecovery recovery;
    absl::StatusOr<std::unique_ptr<Log>> log =
        Log::Open(LogOptions{.path = dir.Path("log"), .fs = &fs_}, &recovery);
    ASSERT_THAT(log, IsOk());
    options.storage = StorageOptions{
        .log = std::shared_ptr<Log>(*std::move(log)), .fsync = fsync};
    absl::StatusOr<Bus> bus = Bus::Create(std::move(options));
    ASSERT_THAT(bus, IsOk());
    absl::StatusOr<PreparedEvent> prepared = bus->Prepare(AuditEvent());
    ASSERT_THAT(prepared, IsOk());
    absl::StatusOr<PublishAttempt> attempt = bus->TryPublish(&*prepared, {});
    ASSERT_THAT(attempt, IsOk());
    EXPECT_TRUE(attempt->published->stored);
    EXPECT_THAT(bus->AwaitStored(1, {}), testing::IsOkAndHolds(true));
  }
}

}  // namespace
}  // namespace eventbus

// Concurrent publishers and subscribers: every subscriber's reads and lag
// notices tile the sequence range exactly, under each overflow policy (kBlock
// readers lose nothing, kDisconnect readers end where they would have). Also
// run under ThreadSanitizer (scripts/tsan).
#include <thread>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "gtest/gtest.h"
#include "server/bus/bus.h"
#include "tests/server/bus/bus_test_util.h"

namespace eventbus {
namespace {

struct Tally {
  uint64_t received = 0;
  uint64_t missed = 0;
  bool ordered = true;
  // The sequence it would resume from, when the bus ended it.
  uint64_t ended_at = 0;
};

// One subscriber reading until end_of_stream. Stalling readers use the
// blocking Read() and yield now and then, so they lag; the others TryRead()
// and Arm() with a waker, as the gRPC reactor does.
class Reader : public SubscriptionWaker,
               public std::enable_shared_from_this<Reader> {
 public:
  explicit Reader(std::unique_ptr<Subscription> subscription, bool stall)
      : subscription_(std::move(subscription)), stall_(stall) {}

  void OnReadable() override {
    MutexLock lock(&mu_);
    woken_ = true;
    woken_cv_.SignalAll();
  }

  void Run() {
    ReadBatch batch;
    uint64_t expected = subscription_->cursor();
    int reads = 0;
    while (true) {
      if (stall_) {
        subscription_->Read(absl::Now() + absl::Seconds(30), {.max_events = 64},
                            &batch);
      } else {
        ReadOrArm(&batch);
      }
      if (batch.empty()) {
        tally.ordered = false;  // timed out: the stream never ended
        return;
      }
      if (!batch.ended.ok()) {
        tally.ended_at = subscription_->cursor();
        if (tally.ended_at != expected) tally.ordered = false;
        return;
      }
      if (batch.lag) {
        if (batch.lag->first_sequence != expected) tally.ordered = false;
        tally.missed += batch.lag->missed();
        expected = batch.lag->last_sequence + 1;
      }
      for (const auto& event : batch.events) {
        if (event->sequence() != expected) tally.ordered = false;
        ++expected;
        ++tally.received;
      }
      if (batch.end_of_stream) return;
      if (stall_ && ++reads % 8 == 0) std::this_thread::yield();
    }
  }

  Tally tally;

 private:
  // Reads as the reactor does: TryRead, and when nothing came, Arm and wait
  // for the wake-up (a lost wake-up shows as the 30 s timeout).
  void ReadOrArm(ReadBatch* batch) {
    while (true) {
      subscription_->TryRead({.max_events = 64}, batch);
      if (!batch->empty()) return;
      {
        MutexLock lock(&mu_);
        woken_ = false;
      }
      if (!subscription_->Arm(weak_from_this())) continue;
      MutexLock lock(&mu_);
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
      while (!woken_) {
        if (!woken_cv_.WaitUntil(deadline)) return;
      }
    }
  }

  std::unique_ptr<Subscription> subscription_;
  const bool stall_;
  Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  CondVar woken_cv_{&mu_};
};

// Runs `readers` on threads of their own and `publishers` threads that
// publish `events_each` each, then closes the bus and waits for every reader
// to reach its end.
void RunToTheEnd(const Bus& bus,
                 const std::vector<std::shared_ptr<Reader>>& readers,
                 int publishers, int events_each) {
  std::vector<std::thread> threads;
  for (const auto& reader : readers) {
    threads.emplace_back([&reader] { reader->Run(); });
  }
  std::vector<std::thread> publishing;
  for (int p = 0; p < publishers; ++p) {
    publishing.emplace_back([&bus, events_each] {
      for (int i = 0; i < events_each; ++i) {
        ASSERT_TRUE(bus.Publish(testing::AuditEvent()).ok());
      }
    });
  }
  for (auto& t : publishing) t.join();
  bus.Close();
  for (auto& t : threads) t.join();
}

TEST(BusStressTest, ConcurrentPublishersAndReadersAccountForEveryEvent) {
  constexpr int kPublishers = 3;
  constexpr int kReaders = 6;
  constexpr int kEventsPerPublisher = 20000;
  BusOptions options;
  options.capacity = 64;
  Bus bus = *Bus::Create(options);

  std::vector<std::shared_ptr<Reader>> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.push_back(std::make_shared<Reader>(*bus.Subscribe({}), i % 2 == 0));
  }
  RunToTheEnd(bus, readers, kPublishers, kEventsPerPublisher);

  const uint64_t published = kPublishers * kEventsPerPublisher;
  EXPECT_EQ(bus.next_sequence(), published + 1);
  for (const auto& reader : readers) {
    EXPECT_TRUE(reader->tally.ordered);
    EXPECT_EQ(reader->tally.received + reader->tally.missed, published);
  }
}

TEST(BusStressTest, EveryOverflowPolicyAccountsForEveryEvent) {
  constexpr int kPublishers = 3;
  constexpr int kEventsPerPublisher = 10000;
  BusOptions options;
  options.capacity = 64;
  options.max_block = absl::Seconds(60);
  Bus bus = *Bus::Create(options);

  // Policy and stall per reader: both kBlock readers must hold the
  // publishers back, the stalling kDisconnect one is likely to end.
  const std::vector<std::pair<Overflow, bool>> kinds = {
      {Overflow::kBlock, true},      {Overflow::kBlock, false},
      {Overflow::kDisconnect, true}, {Overflow::kDisconnect, false},
      {Overflow::kDropOldest, true}, {Overflow::kDropOldest, false}};
  std::vector<std::shared_ptr<Reader>> readers;
  for (const auto& [overflow, stall] : kinds) {
    SubscribeOptions subscribe;
    subscribe.overflow = overflow;
    readers.push_back(
        std::make_shared<Reader>(*bus.Subscribe(std::move(subscribe)), stall));
  }
  RunToTheEnd(bus, readers, kPublishers, kEventsPerPublisher);

  const uint64_t published = kPublishers * kEventsPerPublisher;
  for (size_t i = 0; i < readers.size(); ++i) {
    const Tally& tally = readers[i]->tally;
    const Overflow overflow = kinds[i].first;
    SCOPED_TRACE(i);
    EXPECT_TRUE(tally.ordered);
    if (overflow == Overflow::kDropOldest || tally.ended_at == 0) {
      EXPECT_EQ(tally.received + tally.missed, published);
    } else {
      EXPECT_EQ(tally.received + tally.missed, tally.ended_at - 1);
    }
    if (overflow == Overflow::kBlock) {
      EXPECT_EQ(tally.received, published);
      EXPECT_EQ(tally.missed, 0u);
      EXPECT_EQ(tally.ended_at, 0u);
    }
    if (overflow != Overflow::kDropOldest) EXPECT_EQ(tally.missed, 0u);
  }
}

}  // namespace
}  // namespace eventbus

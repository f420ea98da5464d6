// Subscription: blocking reads, wake-ups and filters.
#include "server/bus/subscription.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bus/bus.h"
#include "tests/server/bus/bus_test_util.h"

namespace eventbus {
namespace {

using ::eventbus::testing::AuditEvent;
using ::eventbus::testing::Sequences;
using ::eventbus::testing::SpaceNameEvent;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class CountingWaker : public SubscriptionWaker {
 public:
  void OnReadable() override { ++calls; }
  std::atomic<int> calls{0};
};

class SubscriptionTest : public ::testing::Test {
 protected:
  std::unique_ptr<Subscription> Subscribe(SubscribeOptions options = {}) {
    return *bus_.Subscribe(std::move(options));
  }
  Bus bus_ = *Bus::Create(BusOptions{});
  ReadBatch batch_;
};

TEST_F(SubscriptionTest, ReadTimesOutEmpty) {
  auto sub = Subscribe();
  sub->Read(absl::Now() + absl::Milliseconds(20), {}, &batch_);
  EXPECT_TRUE(batch_.empty());
}

TEST_F(SubscriptionTest, ReadWakesOnPublishFromAnotherThread) {
  auto sub = Subscribe();
  std::thread publisher(
      [this] { ASSERT_TRUE(bus_.Publish(AuditEvent()).ok()); });
  sub->Read(absl::Now() + absl::Seconds(10), {}, &batch_);
  publisher.join();
  EXPECT_THAT(Sequences(batch_), ElementsAre(1));
}

TEST_F(SubscriptionTest, ReadWakesOnClose) {
  auto sub = Subscribe();
  std::thread closer([this] { bus_.Close(); });
  sub->Read(absl::Now() + absl::Seconds(10), {}, &batch_);
  closer.join();
  EXPECT_TRUE(batch_.end_of_stream);
}

TEST_F(SubscriptionTest, ArmFailsWhenSomethingIsReadable) {
  auto sub = Subscribe();
  auto waker = std::make_shared<CountingWaker>();
  ASSERT_TRUE(bus_.Publish(AuditEvent()).ok());
  EXPECT_FALSE(sub->Arm(waker));
  sub->TryRead({}, &batch_);
  EXPECT_TRUE(sub->Arm(waker));
  EXPECT_EQ(waker->calls, 0);
}

TEST_F(SubscriptionTest, ArmedWakerIsCalledOncePerArm) {
  auto sub = Subscribe();
  auto waker = std::make_shared<CountingWaker>();
  ASSERT_TRUE(sub->Arm(waker));
  ASSERT_TRUE(bus_.Publish(AuditEvent()).ok());
  ASSERT_TRUE(bus_.Publish(AuditEvent()).ok());
  EXPECT_EQ(waker->calls, 1);
}

TEST_F(SubscriptionTest, CloseWakesArmedWakers) {
  auto sub = Subscribe();
  auto waker = std::make_shared<CountingWaker>();
  ASSERT_TRUE(sub->Arm(waker));
  bus_.Close();
  EXPECT_EQ(waker->calls, 1);
  EXPECT_FALSE(sub->Arm(waker));
}

TEST_F(SubscriptionTest, DestroyedWakerIsNotCalled) {
  auto sub = Subscribe();
  auto waker = std::make_shared<CountingWaker>();
  ASSERT_TRUE(sub->Arm(waker));
  waker.reset();
  EXPECT_TRUE(bus_.Publish(AuditEvent()).ok());  // no crash, no call
}

TEST_F(SubscriptionTest, FilterByType) {
  v1::EventFilter filter;
  filter.add_types(v1::EVENT_TYPE_SPACE_NAME);
  SubscribeOptions options;
  options.matcher = *EventMatcher::Create(filter);
  auto sub = Subscribe(std::move(options));
  ASSERT_TRUE(bus_.Publish(AuditEvent()).ok());
  ASSERT_TRUE(bus_.Publish(SpaceNameEvent()).ok());
  sub->TryRead({}, &batch_);
  EXPECT_THAT(Sequences(batch_), ElementsAre(2));
}

TEST_F(SubscriptionTest, FilteredOutEventsStillAdvanceTheCursor) {
  v1::EventFilter filter;
  (*filter.mutable_attributes())["team"] = "ml";
  SubscribeOptions options;
  options.matcher = *EventMatcher::Create(filter);
  auto sub = Subscribe(std::move(options));
  ASSERT_TRUE(bus_.Publish(AuditEvent()).ok());
  sub->TryRead({}, &batch_);
  EXPECT_THAT(Sequences(batch_), IsEmpty());
  EXPECT_EQ(sub->cursor(), 2u);
  auto waker = std::make_shared<CountingWaker>();
  EXPECT_TRUE(sub->Arm(waker));
}

TEST_F(SubscriptionTest, BlockingReadSkipsFilteredEventsUntilAMatch) {
  v1::EventFilter filter;
  filter.add_types(v1::EVENT_TYPE_SPACE_NAME);
  SubscribeOptions options;
  options.matcher = *EventMatcher::Create(filter);
  auto sub = Subscribe(std::move(options));
  std::thread publisher([this] {
    ASSERT_TRUE(bus_.Publish(AuditEvent()).ok());
    ASSERT_TRUE(bus_.Publish(SpaceNameEvent()).ok());
  });
  do {
    sub->Read(absl::Now() + absl::Seconds(10), {}, &batch_);
  } while (batch_.events.empty() && !batch_.empty());
  publisher.join();
  EXPECT_THAT(Sequences(batch_), ElementsAre(2));
}

}  // namespace
}  // namespace eventbus

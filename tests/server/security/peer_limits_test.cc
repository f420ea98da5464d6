#include "server/security/peer_limits.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace eventbus {
namespace {

class PeerLimitsTest : public ::testing::Test {
 protected:
  std::shared_ptr<PeerLimits> Make(uint32_t max_subscribers, uint32_t rate,
                                   uint32_t burst) {
    return PeerLimits::Create({.max_subscribers_per_peer = max_subscribers,
                               .publish_rate = rate,
                               .publish_burst = burst,
                               .clock = [this] { return now_; }});
  }

  absl::Time now_ = absl::FromUnixSeconds(1000);
};

TEST_F(PeerLimitsTest, PeerIsTheAddressWithoutThePort) {
  EXPECT_EQ(PeerLimits::PeerOf("ipv4:10.0.0.7:41234"), "ipv4:10.0.0.7");
  EXPECT_EQ(PeerLimits::PeerOf("ipv6:[::1]:41234"), "ipv6:[::1]");
  EXPECT_EQ(PeerLimits::PeerOf("ipv6:%5B::1%5D:41234"), "ipv6:%5B::1%5D");
  EXPECT_EQ(PeerLimits::PeerOf("unix:/run/eventbus.sock"),
            "unix:/run/eventbus.sock");
  EXPECT_EQ(PeerLimits::PeerOf("unix:"), "unix:");
}

TEST_F(PeerLimitsTest, SubscribersPerPeer) {
  auto limits = Make(2, 0, 1);
  auto first = limits->AcquireSubscriber("ipv4:10.0.0.7");
  auto second = limits->AcquireSubscriber("ipv4:10.0.0.7");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(
      limits->AcquireSubscriber("ipv4:10.0.0.7").status(),
      absl::ResourceExhaustedError("peer ipv4:10.0.0.7 holds 2 subscriptions: "
                                   "limits.max_subscribers_per_peer is 2"));
  // Another peer has its own slots.
  EXPECT_TRUE(limits->AcquireSubscriber("ipv4:10.0.0.8").ok());
  // A released lease gives its slot back.
  *first = PeerLimits::Lease();
  EXPECT_EQ(limits->subscribers("ipv4:10.0.0.7"), 1u);
  auto third = limits->AcquireSubscriber("ipv4:10.0.0.7");
  EXPECT_TRUE(third.ok());
  EXPECT_EQ(limits->subscribers("ipv4:10.0.0.7"), 2u);
}

TEST_F(PeerLimitsTest, LeasesMoveAndKeepTheLimitsAlive) {
  auto limits = Make(1, 0, 1);
  std::optional<PeerLimits::Lease> moved;
  {
    auto lease = limits->AcquireSubscriber("p");
    ASSERT_TRUE(lease.ok());
    moved.emplace(std::move(*lease));
  }
  EXPECT_EQ(limits->subscribers("p"), 1u);
  std::weak_ptr<PeerLimits> weak = limits;
  limits.reset();
  EXPECT_FALSE(weak.expired());  // the lease holds it
  moved.reset();
  EXPECT_TRUE(weak.expired());
}

TEST_F(PeerLimitsTest, PublishRateIsATokenBucket) {
  auto limits = Make(1, 10, 3);
  const absl::Status exhausted = absl::ResourceExhaustedError(
      "peer ipv4:10.0.0.7 publishes faster than limits.publish_rate_per_peer "
      "(10 events/s, burst 3); retry later");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limits->AdmitPublish("ipv4:10.0.0.7").ok()) << i;
  }
  EXPECT_EQ(limits->AdmitPublish("ipv4:10.0.0.7"), exhausted);
  // Other peers are not affected.
  EXPECT_TRUE(limits->AdmitPublish("ipv4:10.0.0.8").ok());
  // 10 events/s: one more every 100 ms.
  now_ += absl::Milliseconds(99);
  EXPECT_EQ(limits->AdmitPublish("ipv4:10.0.0.7"), exhausted);
  now_ += absl::Milliseconds(1);
  EXPECT_TRUE(limits->AdmitPublish("ipv4:10.0.0.7").ok());
  EXPECT_EQ(limits->AdmitPublish("ipv4:10.0.0.7"), exhausted);
  // A long pause refills up to the burst, not beyond.
  now_ += absl::Hours(1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limits->AdmitPublish("ipv4:10.0.0.7").ok()) << i;
  }
  EXPECT_EQ(limits->AdmitPublish("ipv4:10.0.0.7"), exhausted);
}

TEST_F(PeerLimitsTest, RateZeroIsUnlimited) {
  auto limits = Make(1, 0, 1);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(limits->AdmitPublish("p").ok());
  }
  EXPECT_EQ(limits->tracked_peers(), 0u);
}

TEST_F(PeerLimitsTest, IdlePeersAreForgotten) {
  auto limits = Make(1, 1000, 10);
  auto held = limits->AcquireSubscriber("holder");
  ASSERT_TRUE(held.ok());
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(limits->AdmitPublish("peer-" + std::to_string(i)).ok());
  }
  // Buckets refill in a second; then the next sweep drops every idle peer
  // but keeps the one holding a subscription.
  now_ += absl::Seconds(1);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(limits->AdmitPublish("again-" + std::to_string(i)).ok());
  }
  // Without the sweep: 10001 entries; with it, the holder and the new ones.
  EXPECT_LE(limits->tracked_peers(), 5001u);
  EXPECT_EQ(limits->subscribers("holder"), 1u);
}

}  // namespace
}  // namespace eventbus

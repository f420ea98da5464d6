// The composition root's mapping: each setting reaches its component, and
// the config's defaults are the components' own (they are written in both
// places, so this ties them together).
#include "server/daemon/component_options.h"

#include "gtest/gtest.h"

namespace eventbus {
namespace {

TEST(ComponentOptionsTest, ConfigDefaultsAreTheComponentsDefaults) {
  Config config;
  const BusOptions bus = BusOptionsFrom(config);
  const BusOptions bus_defaults;
  EXPECT_EQ(bus.capacity, bus_defaults.capacity);
  EXPECT_EQ(bus.max_event_bytes, bus_defaults.max_event_bytes);
  EXPECT_EQ(bus.max_subscribers, bus_defaults.max_subscribers);
  EXPECT_EQ(bus.max_block, bus_defaults.max_block);

  const RequestLimits limits = RequestLimitsFrom(config.limits);
  const RequestLimits limits_defaults;
  EXPECT_EQ(limits.max_attributes, limits_defaults.max_attributes);
  EXPECT_EQ(limits.max_attribute_key_bytes,
            limits_defaults.max_attribute_key_bytes);
  EXPECT_EQ(limits.max_attribute_value_bytes,
            limits_defaults.max_attribute_value_bytes);
  EXPECT_EQ(limits.max_filter_size, limits_defaults.max_filter_size);
  EXPECT_EQ(limits.max_filter_expression_bytes,
            limits_defaults.max_filter_expression_bytes);

  const PeerLimits::Options peer = PeerLimitsOptionsFrom(config.limits);
  const PeerLimits::Options peer_defaults;
  EXPECT_EQ(peer.max_subscribers_per_peer,
            peer_defaults.max_subscribers_per_peer);
  EXPECT_EQ(peer.publish_rate, peer_defaults.publish_rate);
  EXPECT_EQ(peer.publish_burst, peer_defaults.publish_burst);
}

TEST(ComponentOptionsTest, EachSettingReachesItsComponent) {
  Config config;
  config.bus.capacity = 7;
  config.bus.max_event_bytes = 4096;
  config.bus.max_block = absl::Milliseconds(250);
  config.server.max_subscribers = 9;
  config.server.tls = {
      .cert_file = "c.pem", .key_file = "k.pem", .client_ca_file = "ca.pem"};
  config.limits = {.max_attributes = 1,
                   .max_attribute_key_bytes = 2,
                   .max_attribute_value_bytes = 3,
                   .max_filter_size = 4,
                   .max_filter_expression_bytes = 10,
                   .max_subscribers_per_peer = 5,
                   .publish_rate_per_peer = 6,
                   .publish_burst_per_peer = 8};
  config.auth.tokens_file = "tokens";
  config.auth.tokens = "secret-token-0123456789 publish";
  config.auth.subjects = {{"cn", Grants{.subscribe = true}}};

  const BusOptions bus = BusOptionsFrom(config);
  EXPECT_EQ(bus.capacity, 7u);
  EXPECT_EQ(bus.max_event_bytes, 4096u);
  EXPECT_EQ(bus.max_block, absl::Milliseconds(250));
  EXPECT_EQ(bus.max_subscribers, 9u);
  const TlsOptions tls = TlsOptionsFrom(config.server);
  EXPECT_EQ(tls.cert_file, "c.pem");
  EXPECT_EQ(tls.key_file, "k.pem");
  EXPECT_EQ(tls.client_ca_file, "ca.pem");
  const RequestLimits limits = RequestLimitsFrom(config.limits);
  EXPECT_EQ(limits.max_attributes, 1u);
  EXPECT_EQ(limits.max_attribute_key_bytes, 2u);
  EXPECT_EQ(limits.max_attribute_value_bytes, 3u);
  EXPECT_EQ(limits.max_filter_size, 4u);
  EXPECT_EQ(limits.max_filter_expression_bytes, 10u);
  const PeerLimits::Options peer = PeerLimitsOptionsFrom(config.limits);
  EXPECT_EQ(peer.max_subscribers_per_peer, 5u);
  EXPECT_EQ(peer.publish_rate, 6u);
  EXPECT_EQ(peer.publish_burst, 8u);

  const Authorizer::Options auth = AuthorizerOptionsFrom(config.auth);
  EXPECT_EQ(auth.tokens_file, "tokens");
  EXPECT_EQ(auth.tokens, "secret-token-0123456789 publish");
  EXPECT_EQ(auth.subjects.at("cn"), Grants{.subscribe = true});
  // The secret moved: the config no longer holds it.
  EXPECT_TRUE(config.auth.tokens.empty());
}

}  // namespace
}  // namespace eventbus

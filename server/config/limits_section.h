// The `limits` section of the config: what one request or one peer may ask
// for. Plain values. The rows that read them are in limits_section.cc; the
// ranges are RequestLimits' and PeerLimits::Options'.
#ifndef EVENTBUS_SERVER_CONFIG_LIMITS_SECTION_H_
#define EVENTBUS_SERVER_CONFIG_LIMITS_SECTION_H_

#include <cstdint>

namespace eventbus {

// limits: what one request or one peer may ask for. A peer is a client IP
// address (every unix-socket client counts as one peer).
struct LimitsConfig {
  // limits.max_attributes: attributes of one event;
  // 0..RequestLimits::kMaxAttributes.
  uint32_t max_attributes = 64;
  // limits.max_attribute_key_bytes / max_attribute_value_bytes: length of
  // one attribute key / value, in events and in filters;
  // 1B..RequestLimits::kMaxAttributeBytes.
  uint64_t max_attribute_key_bytes = 256;
  uint64_t max_attribute_value_bytes = 4096;
  // limits.max_filter_size: event types plus attributes in one Subscribe
  // filter; 0..RequestLimits::kMaxFilterSize.
  uint32_t max_filter_size = 32;
  // limits.max_filter_expression_bytes: length of one filter expression;
  // 0..RequestLimits::kMaxFilterExpressionBytes.
  uint64_t max_filter_expression_bytes = 4096;
  // limits.max_metadata_bytes: request metadata (headers) of one call,
  // counted as HTTP/2 does (name + value + 32 per entry);
  // RequestLimits::kMinMetadataBytes..kMaxMetadataBytes.
  uint64_t max_metadata_bytes = 16384;
  // limits.max_subscribers_per_peer: subscriptions one peer may hold at
  // once; 1..PeerLimits::Options::kMaxSubscribersPerPeer.
  uint32_t max_subscribers_per_peer = 1000;
  // limits.publish_rate_per_peer: events per second one peer may publish,
  // on average; 0 = unlimited; 0..PeerLimits::Options::kMaxPublishRate.
  uint32_t publish_rate_per_peer = 100000;
  // limits.publish_burst_per_peer: events a peer may publish at once above
  // the rate (the token bucket's size); 1..kMaxPublishRate.
  uint32_t publish_burst_per_peer = 100000;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_LIMITS_SECTION_H_

// The rows of `limits`. The ranges are those of the components that enforce
// them: RequestLimits (per request) and PeerLimits (per peer).

#include <vector>

#include "server/config/settings.h"
#include "server/security/peer_limits.h"
#include "server/security/request_limits.h"

namespace eventbus {

std::vector<Setting> LimitsSettings() {
  using PeerOptions = PeerLimits::Options;
  const SectionRows<LimitsConfig> limits("limits", &Config::limits);
  return {
      limits.Row("max_attributes", &LimitsConfig::max_attributes,
                 IntegerIn(0, RequestLimits::kMaxAttributes),
                 "most attributes on one event"),
      limits.Row("max_attribute_key_bytes",
                 &LimitsConfig::max_attribute_key_bytes,
                 SizeIn(1, RequestLimits::kMaxAttributeBytes),
                 "longest attribute key, in events and filters"),
      limits.Row("max_attribute_value_bytes",
                 &LimitsConfig::max_attribute_value_bytes,
                 SizeIn(1, RequestLimits::kMaxAttributeBytes),
                 "longest attribute value, in events and filters"),
      limits.Row("max_filter_size", &LimitsConfig::max_filter_size,
                 IntegerIn(0, RequestLimits::kMaxFilterSize),
                 "most event types plus attributes in one Subscribe filter"),
      limits.Row("max_filter_expression_bytes",
                 &LimitsConfig::max_filter_expression_bytes,
                 SizeIn(0, RequestLimits::kMaxFilterExpressionBytes),
                 "longest filter expression of one Subscribe filter"),
      limits.Row("max_metadata_bytes", &LimitsConfig::max_metadata_bytes,
                 SizeIn(RequestLimits::kMinMetadataBytes,
                        RequestLimits::kMaxMetadataBytes),
                 "largest request metadata (headers) of one call"),
      limits.Row("max_subscribers_per_peer",
                 &LimitsConfig::max_subscribers_per_peer,
                 IntegerIn(1, PeerOptions::kMaxSubscribersPerPeer),
                 "most subscriptions one client address holds at once"),
      limits.Row("publish_rate_per_peer", &LimitsConfig::publish_rate_per_peer,
                 IntegerIn(0, PeerOptions::kMaxPublishRate),
                 "events per second one client address may publish; 0: "
                 "unlimited"),
      limits.Row("publish_burst_per_peer",
                 &LimitsConfig::publish_burst_per_peer,
                 IntegerIn(1, PeerOptions::kMaxPublishRate),
                 "events one client address may publish at once above the "
                 "rate"),
  };
}

}  // namespace eventbus

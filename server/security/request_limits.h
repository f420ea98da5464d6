// RequestLimits: the size limits (limits.* in the config) that one Publish
// or Subscribe request must keep: attributes per event, the length of an
// attribute key or value, and the size of a Subscribe filter. Admission
// checks them before the bus sees the request. Stateless: thread-safe.
#ifndef EVENTBUS_SERVER_SECURITY_REQUEST_LIMITS_H_
#define EVENTBUS_SERVER_SECURITY_REQUEST_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {

// What one request may carry. The defaults are the config's.
struct RequestLimits {
  // The largest values the config accepts for each limit.
  static constexpr uint64_t kMaxAttributes = 1000000;
  static constexpr uint64_t kMaxAttributeBytes = uint64_t{64} << 20;
  static constexpr uint64_t kMaxFilterSize = 1000000;
  static constexpr uint64_t kMaxFilterExpressionBytes = 64 << 10;
  static constexpr uint64_t kMinMetadataBytes = 1024;
  static constexpr uint64_t kMaxMetadataBytes = 1 << 20;

  uint64_t max_attributes = 64;
  uint64_t max_attribute_key_bytes = 256;
  uint64_t max_attribute_value_bytes = 4096;
  // Event types plus attributes in one filter.
  uint64_t max_filter_size = 32;
  // The length of EventFilter.expression.
  uint64_t max_filter_expression_bytes = 4096;
  // Request metadata of one call: the sum of name + value + 32 per entry.
  uint64_t max_metadata_bytes = 16384;
};

// InvalidArgument naming the limit's config key when `event` has more
// attributes than limits.max_attributes, or a key or value longer than
// limits.max_attribute_key_bytes / max_attribute_value_bytes.
absl::Status CheckEventLimits(const v1::Event& event,
                              const RequestLimits& limits);

// InvalidArgument naming the limit's config key when `filter` has more
// event types plus attributes than limits.max_filter_size, an attribute
// key or value over the attribute limits, or an expression longer than
// limits.max_filter_expression_bytes.
absl::Status CheckFilterLimits(const v1::EventFilter& filter,
                               const RequestLimits& limits);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_SECURITY_REQUEST_LIMITS_H_

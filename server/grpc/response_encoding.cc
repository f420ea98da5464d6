#include "server/grpc/response_encoding.h"

#include <cstring>

#include "base/varint.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {
namespace {

// Wire-format tags of SubscribeResponse: lagged = 1, events = 2, both
// length-delimited.
constexpr uint8_t kLaggedTag = (1 << 3) | 2;
constexpr uint8_t kEventsTag = (2 << 3) | 2;

v1::Lagged ToProto(const Lag& lag) {
  v1::Lagged lagged;
  lagged.set_missed(lag.missed());
  lagged.set_first_sequence(lag.first_sequence);
  lagged.set_last_sequence(lag.last_sequence);
  lagged.set_priority(lag.priority);
  return lagged;
}

}  // namespace

size_t SubscribeResponseSize(const ReadBatch& batch) {
  size_t size = 0;
  if (batch.lag) {
    const size_t lagged = ToProto(*batch.lag).ByteSizeLong();
    size += 1 + VarintSize(lagged) + lagged;
  }
  for (const auto& event : batch.events) {
    const size_t encoded = event->encoded().size();
    size += 1 + VarintSize(encoded) + encoded;
  }
  return size;
}

uint8_t* WriteSubscribeResponse(const ReadBatch& batch, uint8_t* out) {
  if (batch.lag) {
    const v1::Lagged lagged = ToProto(*batch.lag);
    *out++ = kLaggedTag;
    out = WriteVarint(lagged.ByteSizeLong(), out);
    out = lagged.SerializeWithCachedSizesToArray(out);
  }
  for (const auto& event : batch.events) {
    const std::string_view encoded = event->encoded();
    *out++ = kEventsTag;
    out = WriteVarint(encoded.size(), out);
    std::memcpy(out, encoded.data(), encoded.size());
    out += encoded.size();
  }
  return out;
}

}  // namespace eventbus

#include "server/response_encoding.h"

#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {
namespace {

// Wire-format tags of SubscribeResponse: lagged = 1, events = 2, both
// length-delimited.
constexpr char kLaggedTag = (1 << 3) | 2;
constexpr char kEventsTag = (2 << 3) | 2;

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

}  // namespace

void EncodeSubscribeResponse(const ReadBatch& batch, std::string* out) {
  out->clear();
  size_t total = 0;
  for (const auto& event : batch.events) total += event->encoded().size() + 6;
  out->reserve(total + 64);
  if (batch.lag) {
    v1::Lagged lagged;
    lagged.set_missed(batch.lag->missed());
    lagged.set_first_sequence(batch.lag->first_sequence);
    lagged.set_last_sequence(batch.lag->last_sequence);
    out->push_back(kLaggedTag);
    AppendVarint(lagged.ByteSizeLong(), out);
    lagged.AppendToString(out);
  }
  for (const auto& event : batch.events) {
    const std::string_view encoded = event->encoded();
    out->push_back(kEventsTag);
    AppendVarint(encoded.size(), out);
    out->append(encoded.data(), encoded.size());
  }
}

}  // namespace eventbus

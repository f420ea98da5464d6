#include "server/bus/stored_event.h"

#include <cstring>
#include <limits>

#include "base/varint.h"

namespace eventbus {
namespace {

// Wire-format tags: (field number << 3) | wire type.
constexpr uint8_t kSequenceTag = (1 << 3) | 0;     // Event.sequence, varint
constexpr uint8_t kPublishTimeTag = (2 << 3) | 2;  // Event.publish_time, bytes
constexpr uint8_t kSecondsTag = (1 << 3) | 0;      // Timestamp.seconds
constexpr uint8_t kNanosTag = (2 << 3) | 0;        // Timestamp.nanos

size_t TimestampBodySize(int64_t seconds, int32_t nanos) {
  size_t size = 0;
  if (seconds != 0) size += 1 + VarintSize(static_cast<uint64_t>(seconds));
  if (nanos != 0) size += 1 + VarintSize(static_cast<uint64_t>(nanos));
  return size;
}

}  // namespace

const v1::Event& StoredEvent::event() const {
  std::call_once(parsed_once_, [this] {
    parsed_ = std::make_unique<v1::Event>();
    // The bus encoded these bytes from an Event that passed validation,
    // UTF-8 of every string field included: parsing cannot fail.
    const std::string_view bytes = encoded();
    parsed_->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  });
  return *parsed_;
}

void StoredEvent::Assign(uint64_t sequence, int64_t seconds, int32_t nanos) {
  sequence_ = sequence;
  // Saturates past 2262, as absl::ToUnixNanos does: only the latency
  // histogram reads it, and a clock that far off is a broken clock.
  if (__builtin_mul_overflow(seconds, int64_t{1000000000}, &publish_nanos_) ||
      __builtin_add_overflow(publish_nanos_, int64_t{nanos}, &publish_nanos_)) {
    publish_nanos_ = seconds < 0 ? std::numeric_limits<int64_t>::min()
                                 : std::numeric_limits<int64_t>::max();
  }

  uint8_t header[kAssignedFieldsReserve];
  uint8_t* out = header;
  if (sequence != 0) {
    *out++ = kSequenceTag;
    out = WriteVarint(sequence, out);
  }
  *out++ = kPublishTimeTag;
  out = WriteVarint(TimestampBodySize(seconds, nanos), out);
  if (seconds != 0) {
    *out++ = kSecondsTag;
    out = WriteVarint(static_cast<uint64_t>(seconds), out);
  }
  if (nanos != 0) {
    *out++ = kNanosTag;
    out = WriteVarint(static_cast<uint64_t>(nanos), out);
  }
  const size_t header_size = out - header;
  encoded_offset_ = kAssignedFieldsReserve - header_size;
  std::memcpy(buffer_.data() + encoded_offset_, header, header_size);
}

}  // namespace eventbus

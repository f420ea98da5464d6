// Protobuf base-128 varints, for the few places that write wire format by
// hand (the bus's assigned fields, Subscribe responses assembled from
// stored bytes). Pure functions: thread-safe.
#ifndef EVENTBUS_BASE_VARINT_H_
#define EVENTBUS_BASE_VARINT_H_

#include <cstddef>
#include <cstdint>

namespace eventbus {

// Bytes WriteVarint writes for `value`: 1 to 10.
inline size_t VarintSize(uint64_t value) {
  size_t size = 1;
  for (; value >= 0x80; value >>= 7) ++size;
  return size;
}

// Writes `value` at `out`, which must have VarintSize(value) bytes of room;
// returns the byte after it.
inline uint8_t* WriteVarint(uint64_t value, uint8_t* out) {
  for (; value >= 0x80; value >>= 7) {
    *out++ = static_cast<uint8_t>(value | 0x80);
  }
  *out++ = static_cast<uint8_t>(value);
  return out;
}

}  // namespace eventbus

#endif  // EVENTBUS_BASE_VARINT_H_

#include "server/storage/record_format.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace eventbus {

void AppendFixed64(uint64_t value, std::string* out) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out->append(bytes, 8);
}

void AppendFixed32(uint32_t value, std::string* out) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out->append(bytes, 4);
}

uint64_t ReadFixed64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

uint32_t ReadFixed32(const char* bytes) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

uint32_t Crc32(uint32_t crc, std::string_view bytes) {
  // zlib takes a uInt length: feed very large inputs in pieces.
  while (!bytes.empty()) {
    const size_t piece = std::min<size_t>(bytes.size(), 1u << 30);
    crc = static_cast<uint32_t>(
        crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()),
              static_cast<uInt>(piece)));
    bytes.remove_prefix(piece);
  }
  return crc;
}

void AppendSegmentHeader(uint64_t first_sequence, std::string* out) {
  out->append(kSegmentMagic);
  AppendFixed64(first_sequence, out);
}

uint64_t ParseSegmentHeader(std::string_view header) {
  if (header.size() < kSegmentHeaderBytes ||
      header.substr(0, kSegmentMagic.size()) != kSegmentMagic) {
    return 0;
  }
  return ReadFixed64(header.data() + kSegmentMagic.size());
}

namespace {

// The checksum covers the header but its own field, then the event.
uint32_t RecordChecksum(const char* header, std::string_view event) {
  uint32_t crc = Crc32(0, std::string_view(header, 4));
  crc = Crc32(crc, std::string_view(header + 8, kRecordHeaderBytes - 8));
  return Crc32(crc, event);
}

}  // namespace

void AppendRecord(uint64_t sequence, int64_t time_nanos, std::string_view event,
                  std::string* out) {
  const size_t start = out->size();
  AppendFixed32(static_cast<uint32_t>(event.size()), out);
  AppendFixed32(0, out);  // the checksum, below
  AppendFixed64(sequence, out);
  AppendFixed64(static_cast<uint64_t>(time_nanos), out);
  const uint32_t crc = RecordChecksum(out->data() + start, event);
  char crc_bytes[4];
  for (int i = 0; i < 4; ++i) crc_bytes[i] = static_cast<char>(crc >> (8 * i));
  std::memcpy(out->data() + start + 4, crc_bytes, 4);
  out->append(event);
}

RecordHeader ParseRecordHeader(const char* bytes) {
  return RecordHeader{
      .length = ReadFixed32(bytes),
      .checksum = ReadFixed32(bytes + 4),
      .sequence = ReadFixed64(bytes + 8),
      .time_nanos = static_cast<int64_t>(ReadFixed64(bytes + 16))};
}

bool ChecksumMatches(const char* header, std::string_view event) {
  return RecordChecksum(header, event) == ReadFixed32(header + 4);
}

}  // namespace eventbus

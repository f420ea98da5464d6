// The durable log's on-disk format (see segment.h for the files).
//
// A segment file starts with a 16-byte header: the magic "EVBUSEG1" and its
// first sequence (u64). Then records, back to back, each:
//
//   u32 length     of the event bytes
//   u32 checksum   zlib crc32 of the length, sequence, time and event bytes
//   u64 sequence
//   i64 time       publish time, Unix nanoseconds (for retention by age)
//   event bytes    the Event exactly as the ring holds and Subscribe sends it
//
// All integers little-endian. A record whose length is 0, over
// kMaxRecordBytes, past the end of the file, or whose checksum does not
// match, is bad: everything from it on is the torn tail (last segment) or
// corruption (closed segment).
#ifndef EVENTBUS_SERVER_STORAGE_RECORD_FORMAT_H_
#define EVENTBUS_SERVER_STORAGE_RECORD_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace eventbus {

inline constexpr std::string_view kSegmentMagic = "EVBUSEG1";
inline constexpr size_t kSegmentHeaderBytes = 16;
inline constexpr size_t kRecordHeaderBytes = 24;
// Larger than any event the bus accepts (64 MiB and its assigned fields).
inline constexpr uint32_t kMaxRecordBytes = (64u << 20) + 4096;

struct RecordHeader {
  uint32_t length = 0;
  uint32_t checksum = 0;
  uint64_t sequence = 0;
  int64_t time_nanos = 0;
};

// Appends the segment header for `first_sequence` to `*out`.
void AppendSegmentHeader(uint64_t first_sequence, std::string* out);
// The first sequence a segment header names, or 0 when it is not one.
uint64_t ParseSegmentHeader(std::string_view header);

// Appends one record to `*out`.
void AppendRecord(uint64_t sequence, int64_t time_nanos, std::string_view event,
                  std::string* out);

// Decodes kRecordHeaderBytes bytes.
RecordHeader ParseRecordHeader(const char* bytes);
// Whether the checksum in the kRecordHeaderBytes bytes at `header`
// matches `event` (its length already checked).
bool ChecksumMatches(const char* header, std::string_view event);

// Little-endian fixed-width helpers, shared with the index file.
void AppendFixed64(uint64_t value, std::string* out);
void AppendFixed32(uint32_t value, std::string* out);
uint64_t ReadFixed64(const char* bytes);
uint32_t ReadFixed32(const char* bytes);
// zlib's crc32 of `bytes`, continuing `crc`.
uint32_t Crc32(uint32_t crc, std::string_view bytes);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_STORAGE_RECORD_FORMAT_H_

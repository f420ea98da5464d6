#include "bench/bench_event.h"

#include <cstring>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace eventbus::bench {
namespace {

constexpr size_t kStampDigits = 19;

// Protobuf wire types.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;

// A cursor over wire bytes; every read fails once the bytes run out.
class WireReader {
 public:
  WireReader(const uint8_t* data, size_t size) : at_(data), end_(data + size) {}

  bool done() const { return at_ == end_; }

  bool ReadVarint(uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64 && at_ < end_; shift += 7) {
      const uint8_t byte = *at_++;
      result |= uint64_t{byte & 0x7fu} << shift;
      if (byte < 0x80) {
        *value = result;
        return true;
      }
    }
    return false;
  }

  // Reads a tag; `*field` and `*wire_type` receive its parts.
  bool ReadTag(uint32_t* field, uint32_t* wire_type) {
    uint64_t tag;
    if (!ReadVarint(&tag)) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *wire_type = static_cast<uint32_t>(tag & 7);
    return true;
  }

  // Reads a length-delimited value as a sub-range.
  bool ReadBytes(const uint8_t** data, size_t* size) {
    uint64_t length;
    if (!ReadVarint(&length) || length > uint64_t(end_ - at_)) return false;
    *data = at_;
    *size = static_cast<size_t>(length);
    at_ += length;
    return true;
  }

  bool Skip(uint32_t wire_type) {
    uint64_t ignored;
    const uint8_t* data;
    size_t size;
    switch (wire_type) {
      case kVarint:
        return ReadVarint(&ignored);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return ReadBytes(&data, &size);
      case kFixed32:
        return Advance(4);
      default:
        return false;
    }
  }

 private:
  bool Advance(size_t n) {
    if (n > size_t(end_ - at_)) return false;
    at_ += n;
    return true;
  }

  const uint8_t* at_;
  const uint8_t* end_;
};

int64_t ParseDecimal(const uint8_t* data, size_t size) {
  int64_t value = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] < '0' || data[i] > '9') return 0;
    value = value * 10 + (data[i] - '0');
  }
  return value;
}

// Event.attributes map entry: key = 1, value = 2.
bool ScanAttribute(const uint8_t* data, size_t size, ScannedEvent* event) {
  WireReader reader(data, size);
  const uint8_t* key = nullptr;
  size_t key_size = 0;
  const uint8_t* value = nullptr;
  size_t value_size = 0;
  while (!reader.done()) {
    uint32_t field, wire_type;
    if (!reader.ReadTag(&field, &wire_type)) return false;
    if (field == 1 && wire_type == kLengthDelimited) {
      if (!reader.ReadBytes(&key, &key_size)) return false;
    } else if (field == 2 && wire_type == kLengthDelimited) {
      if (!reader.ReadBytes(&value, &value_size)) return false;
    } else if (!reader.Skip(wire_type)) {
      return false;
    }
  }
  if (key_size == sizeof(kStampAttribute) - 1 &&
      std::memcmp(key, kStampAttribute, key_size) == 0) {
    event->stamp_ns = ParseDecimal(value, value_size);
  }
  return true;
}

// Event: sequence = 1 (varint), attributes = 5 (map entries).
bool ScanEvent(const uint8_t* data, size_t size, ScannedEvent* event) {
  WireReader reader(data, size);
  while (!reader.done()) {
    uint32_t field, wire_type;
    if (!reader.ReadTag(&field, &wire_type)) return false;
    if (field == 1 && wire_type == kVarint) {
      if (!reader.ReadVarint(&event->sequence)) return false;
    } else if (field == 5 && wire_type == kLengthDelimited) {
      const uint8_t* entry;
      size_t entry_size;
      if (!reader.ReadBytes(&entry, &entry_size) ||
          !ScanAttribute(entry, entry_size, event)) {
        return false;
      }
    } else if (!reader.Skip(wire_type)) {
      return false;
    }
  }
  return true;
}

// Lagged: missed = 1, first_sequence = 2, last_sequence = 3.
bool ScanLagged(const uint8_t* data, size_t size, ScannedLag* lag) {
  WireReader reader(data, size);
  while (!reader.done()) {
    uint32_t field, wire_type;
    if (!reader.ReadTag(&field, &wire_type)) return false;
    uint64_t* target = field == 1   ? &lag->missed
                       : field == 2 ? &lag->first_sequence
                       : field == 3 ? &lag->last_sequence
                                    : nullptr;
    if (target != nullptr && wire_type == kVarint) {
      if (!reader.ReadVarint(target)) return false;
    } else if (!reader.Skip(wire_type)) {
      return false;
    }
  }
  return true;
}

}  // namespace

v1::Event BenchEvent() {
  v1::Event event;
  event.set_source("opsml-server");
  (*event.mutable_attributes())[kStampAttribute] =
      std::string(kStampDigits, '0');
  v1::AuditEvent* audit = event.mutable_audit();
  audit->set_username("alice.smith1");
  audit->set_client_ip("203.0.113.45");
  audit->set_user_agent("opsml-client/3.0.0 (Linux x86_64) httpx/0.27.2");
  audit->set_operation(v1::OPERATION_UPDATE);
  audit->set_resource_type(v1::RESOURCE_TYPE_FILE);
  audit->set_resource_id("0192b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b");
  audit->set_status(v1::AUDIT_STATUS_SUCCESS);
  audit->set_registry_type(v1::REGISTRY_TYPE_MODEL);
  audit->set_route("/opsml/api/files/multipart");
  return event;
}

void StampEvent(int64_t mono_ns, v1::Event* event) {
  std::string& stamp = (*event->mutable_attributes())[kStampAttribute];
  stamp.resize(kStampDigits);
  for (size_t i = kStampDigits; i-- > 0; mono_ns /= 10) {
    stamp[i] = static_cast<char>('0' + mono_ns % 10);
  }
}

size_t BenchEventWireSize(uint64_t sequence) {
  v1::Event event = BenchEvent();
  StampEvent(MonotonicNanos(), &event);
  event.set_sequence(sequence);
  event.set_id("00000000-0000-4000-8000-000000000000");
  const absl::Time now = absl::Now();
  const int64_t seconds = absl::ToUnixSeconds(now);
  event.mutable_publish_time()->set_seconds(seconds);
  event.mutable_publish_time()->set_nanos(static_cast<int32_t>(
      (now - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return event.ByteSizeLong();
}

bool ScanSubscribeResponse(const uint8_t* data, size_t size,
                           ResponseVisitor* visitor) {
  WireReader reader(data, size);
  while (!reader.done()) {
    uint32_t field, wire_type;
    if (!reader.ReadTag(&field, &wire_type)) return false;
    if (wire_type == kLengthDelimited && (field == 1 || field == 2)) {
      const uint8_t* part;
      size_t part_size;
      if (!reader.ReadBytes(&part, &part_size)) return false;
      if (field == 1) {
        ScannedLag lag;
        if (!ScanLagged(part, part_size, &lag)) return false;
        visitor->OnLagged(lag);
      } else {
        ScannedEvent event;
        if (!ScanEvent(part, part_size, &event)) return false;
        visitor->OnEvent(event);
      }
    } else if (!reader.Skip(wire_type)) {
      return false;
    }
  }
  return true;
}

}  // namespace eventbus::bench

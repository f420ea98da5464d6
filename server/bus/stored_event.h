// StoredEvent: one accepted event as the bus keeps it.
//
// The bus creates a StoredEvent once per accepted publish and shares it,
// immutable, between the ring and every reader (std::shared_ptr<const>). It
// holds the event's wire encoding, which the gRPC layer writes as it is and
// never re-serializes. The parsed message is made from those bytes only when
// something asks for it (a subscription's filter, an in-process reader), once
// per event: a bus without filters never builds or frees a message per event,
// and each retained event costs its encoding and little more.
// Thread-safe: immutable once published (event() parses under std::call_once).
#ifndef EVENTBUS_SERVER_BUS_STORED_EVENT_H_
#define EVENTBUS_SERVER_BUS_STORED_EVENT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {

class StoredEvent {
 public:
  // Bytes reserved in front of the body for the fields the bus assigns at
  // publish time (sequence and publish_time): 1 + 10 for the sequence and
  // 2 + 11 + 6 for the timestamp, rounded up.
  static constexpr size_t kAssignedFieldsReserve = 32;

  // `buffer` holds kAssignedFieldsReserve free bytes followed by the
  // canonical encoding of an Event without `sequence` and `publish_time`
  // (its other fields in field-number order). Assign() adds those two
  // before the event is published.
  // `priority` is the event's, which decides its lane in the ring.
  explicit StoredEvent(std::string&& buffer,
                       v1::Priority priority = v1::PRIORITY_NORMAL)
      : buffer_(std::move(buffer)), priority_(priority) {}

  // An event as the durable log returns it: `encoded` is the whole
  // encoding, assigned fields included, of the event numbered `sequence`.
  static std::shared_ptr<StoredEvent> FromLog(uint64_t sequence,
                                              int64_t publish_nanos,
                                              std::string&& encoded) {
    auto stored = std::make_shared<StoredEvent>(std::move(encoded));
    stored->encoded_offset_ = 0;
    stored->sequence_ = sequence;
    stored->publish_nanos_ = publish_nanos;
    return stored;
  }

  StoredEvent(const StoredEvent&) = delete;
  StoredEvent& operator=(const StoredEvent&) = delete;

  // The event, with its sequence and publish_time set, parsed from
  // encoded() on the first call.
  const v1::Event& event() const;
  uint64_t sequence() const { return sequence_; }
  // As published (PRIORITY_NORMAL for an event read from the log: the log
  // does not keep lanes).
  v1::Priority priority() const { return priority_; }
  // Its publish_time, in nanoseconds since the Unix epoch.
  int64_t publish_nanos() const { return publish_nanos_; }
  // The serialized Event, exactly as a SubscribeResponse carries it.
  std::string_view encoded() const {
    return std::string_view(buffer_).substr(encoded_offset_);
  }

  // Writes the encoding of the bus-assigned fields in front of the body.
  // Called exactly once, before the event is shared.
  // Protobuf writes known fields in field-number order, and these are fields 1
  // and 2, so the result is the message's canonical encoding.
  void Assign(uint64_t sequence, int64_t seconds, int32_t nanos);

 private:
  std::string buffer_;
  v1::Priority priority_ = v1::PRIORITY_NORMAL;
  size_t encoded_offset_ = kAssignedFieldsReserve;
  uint64_t sequence_ = 0;
  int64_t publish_nanos_ = 0;
  mutable std::once_flag parsed_once_;
  mutable std::unique_ptr<v1::Event> parsed_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_BUS_STORED_EVENT_H_

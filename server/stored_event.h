// StoredEvent: one accepted event as the bus keeps it.
//
// The bus creates a StoredEvent once per accepted publish and shares it,
// immutable, between the ring and every reader (std::shared_ptr<const>). It
// holds both the parsed message (for filters and in-process readers) and its
// wire encoding (for the gRPC layer, which writes those bytes as they are and
// never re-serializes). Thread-safe: immutable once published.
#ifndef EVENTBUS_SERVER_STORED_EVENT_H_
#define EVENTBUS_SERVER_STORED_EVENT_H_

#include <cstdint>
#include <memory>
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

  // `event` has every field but `sequence` and `publish_time` set; `buffer`
  // holds kAssignedFieldsReserve free bytes followed by the encoding of
  // `event`. Assign() completes both before the event is published.
  StoredEvent(v1::Event&& event, std::string&& buffer)
      : event_(std::move(event)), buffer_(std::move(buffer)) {}

  StoredEvent(const StoredEvent&) = delete;
  StoredEvent& operator=(const StoredEvent&) = delete;

  // The event, with its sequence and publish_time set.
  const v1::Event& event() const { return event_; }
  uint64_t sequence() const { return event_.sequence(); }
  // The serialized Event, exactly as a SubscribeResponse carries it.
  std::string_view encoded() const {
    return std::string_view(buffer_).substr(encoded_offset_);
  }

  // Size the encoding will have once Assign() adds `sequence` and the
  // timestamp (`seconds`, `nanos`).
  size_t EncodedSizeWith(uint64_t sequence, int64_t seconds,
                         int32_t nanos) const;

  // Sets the bus-assigned fields in the message and writes their encoding in
  // front of the body. Called exactly once, before the event is shared.
  // Protobuf writes known fields in field-number order, and these are fields 1
  // and 2, so the result is the message's canonical encoding.
  void Assign(uint64_t sequence, int64_t seconds, int32_t nanos);

 private:
  v1::Event event_;
  std::string buffer_;
  size_t encoded_offset_ = kAssignedFieldsReserve;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_STORED_EVENT_H_

#include "server/bus/bus.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/random_uuid.h"
#include "base/status_macros.h"
#include "server/bus/event_validation.h"
#include "server/bus/ring.h"

namespace eventbus {

absl::StatusOr<Bus> Bus::Create(BusOptions options) {
  if (options.capacity < 1 || options.capacity > BusOptions::kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("capacity must be between 1 and ",
                     BusOptions::kMaxCapacity, ", got ", options.capacity));
  }
  for (const auto& [name, capacity] :
       {std::pair{"high", options.lanes.high},
        std::pair{"normal", options.lanes.normal},
        std::pair{"low", options.lanes.low}}) {
    if (capacity > BusOptions::kMaxCapacity) {
      return absl::InvalidArgumentError(
          absl::StrCat("the ", name,
                       " lane's capacity must be 0 (capacity) or between 1 "
                       "and ",
                       BusOptions::kMaxCapacity, ", got ", capacity));
    }
  }
  static_assert(BusOptions::kMinEventBytes >=
                StoredEvent::kAssignedFieldsReserve);
  if (options.max_event_bytes < BusOptions::kMinEventBytes ||
      options.max_event_bytes > BusOptions::kMaxEventBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_event_bytes must be between ", BusOptions::kMinEventBytes, " and ",
        BusOptions::kMaxEventBytes, ", got ", options.max_event_bytes));
  }
  if (options.max_subscribers < 1 ||
      options.max_subscribers > BusOptions::kMaxSubscribers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_subscribers must be between 1 and ", BusOptions::kMaxSubscribers,
        ", got ", options.max_subscribers));
  }
  if (options.max_block < BusOptions::kMinBlock ||
      options.max_block > BusOptions::kMaxBlock) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_block must be between ",
                     absl::FormatDuration(BusOptions::kMinBlock), " and ",
                     absl::FormatDuration(BusOptions::kMaxBlock), ", got ",
                     absl::FormatDuration(options.max_block)));
  }
  if (!options.clock) return absl::InvalidArgumentError("clock is not set");
  if (options.storage.log != nullptr &&
      options.storage.fsync == StorageOptions::Fsync::kInterval &&
      options.storage.interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the fsync interval must be positive");
  }
  return Bus(std::make_shared<Ring>(std::move(options)));
}

absl::StatusOr<PreparedEvent> Bus::Prepare(const v1::Event& event) const {
  EVENTBUS_RETURN_IF_ERROR(ValidateEvent(event));
  // The bus assigns these two; a copy without them is needed only when the
  // publisher set them (rare), so the usual path encodes `event` as it is.
  const v1::Event* body = &event;
  v1::Event scrubbed;
  if (event.sequence() != 0 || event.has_publish_time()) {
    scrubbed = event;
    scrubbed.clear_sequence();
    scrubbed.clear_publish_time();
    body = &scrubbed;
  }
  // A generated id is written in front of the body as field 3 (the body,
  // without an id, starts at field 4): the encoding stays canonical.
  std::string id = event.id().empty() ? RandomUuid() : event.id();
  const size_t id_field_size = event.id().empty() ? 2 + id.size() : 0;
  static_assert(v1::Event::kIdFieldNumber == 3);
  static_assert(2 + 36 + StoredEvent::kAssignedFieldsReserve <=
                BusOptions::kMaxAssignedBytes);
  // Encode once, outside the lock, behind room for the assigned fields.
  // The limit counts what the publisher sent, in the publisher's terms.
  const size_t sent_size = body->ByteSizeLong();
  if (sent_size > ring_->options().max_event_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event is ", sent_size,
        " bytes serialized (without sequence and publish_time), over the "
        "limit bus.max_event_bytes = ",
        ring_->options().max_event_bytes));
  }
  const size_t body_size = id_field_size + sent_size;
  std::string buffer(StoredEvent::kAssignedFieldsReserve + body_size, '\0');
  auto* out = reinterpret_cast<uint8_t*>(buffer.data() +
                                         StoredEvent::kAssignedFieldsReserve);
  if (id_field_size > 0) {
    *out++ = (v1::Event::kIdFieldNumber << 3) | 2;  // length-delimited
    *out++ = static_cast<uint8_t>(id.size());       // 36 < 128: one byte
    out = std::copy(id.begin(), id.end(), out);
  }
  body->SerializeWithCachedSizesToArray(out);
  return PreparedEvent(
      std::make_shared<StoredEvent>(std::move(buffer), event.priority()),
      std::move(id));
}

absl::StatusOr<PublishResult> Bus::Publish(const v1::Event& event) const {
  EVENTBUS_ASSIGN_OR_RETURN(PreparedEvent prepared, Prepare(event));
  EVENTBUS_ASSIGN_OR_RETURN(PublishResult result,
                            ring_->Append(std::move(prepared.stored_)));
  result.id = std::move(prepared.id_);
  return result;
}

absl::StatusOr<PublishAttempt> Bus::TryPublish(
    PreparedEvent* event, std::weak_ptr<PublishWaiter> waiter) const {
  EVENTBUS_ASSIGN_OR_RETURN(
      PublishAttempt attempt,
      ring_->TryAppend(&event->stored_, std::move(waiter)));
  if (attempt.published) attempt.published->id = std::move(event->id_);
  return attempt;
}

absl::StatusOr<std::unique_ptr<Subscription>> Bus::Subscribe(
    SubscribeOptions options) const {
  EVENTBUS_ASSIGN_OR_RETURN(std::unique_ptr<RingReader> reader,
                            ring_->Register(options));
  return std::unique_ptr<Subscription>(
      new Subscription(ring_, std::move(reader), options.overflow,
                       std::move(options.matcher), std::move(options.name)));
}

void Bus::Close() const { ring_->Close(); }

bool Bus::AwaitNoSubscribers(absl::Time deadline) const {
  return ring_->AwaitNoSubscribers(deadline);
}

uint64_t Bus::subscriber_count() const { return ring_->subscriber_count(); }

std::vector<SubscriberSnapshot> Bus::Subscribers() const {
  return ring_->Subscribers();
}

BusStats Bus::Stats() const { return ring_->Stats(); }

uint64_t Bus::blocked_publishers() const { return ring_->blocked_publishers(); }

uint64_t Bus::next_sequence() const { return ring_->next_sequence(); }

uint64_t Bus::stored_end() const { return ring_->stored_end(); }

uint64_t Bus::oldest_sequence() const { return ring_->oldest_sequence(); }

absl::StatusOr<bool> Bus::AwaitStored(
    uint64_t sequence, std::weak_ptr<PublishWaiter> waiter) const {
  return ring_->AwaitStored(sequence, std::move(waiter));
}

absl::Status Bus::CloseStorage() const { return ring_->CloseStorage(); }

const BusOptions& Bus::options() const { return ring_->options(); }

}  // namespace eventbus

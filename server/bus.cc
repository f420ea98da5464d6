#include "server/bus.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/event_validation.h"
#include "server/random_uuid.h"
#include "server/ring.h"
#include "server/status_macros.h"

namespace eventbus {
absl::StatusOr<SubscribeOptions> SubscribeOptions::FromRequest(
    const v1::SubscribeRequest& request) {
  SubscribeOptions options;
  switch (request.start_case()) {
    case v1::SubscribeRequest::kFromSequence:
      options.start = Start::kSequence;
      options.from_sequence = request.from_sequence();
      break;
    case v1::SubscribeRequest::kFromEarliest:
      if (request.from_earliest()) options.start = Start::kEarliest;
      break;
    case v1::SubscribeRequest::START_NOT_SET:
      break;
  }
  EVENTBUS_ASSIGN_OR_RETURN(options.matcher,
                            EventMatcher::Create(request.filter()));
  options.name = request.name();
  return options;
}

absl::StatusOr<Bus> Bus::Create(BusOptions options) {
  if (options.capacity < 1 || options.capacity > BusOptions::kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("capacity must be between 1 and ",
                     BusOptions::kMaxCapacity, ", got ", options.capacity));
  }
  if (options.max_event_bytes < StoredEvent::kAssignedFieldsReserve) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_event_bytes must be at least ",
                     StoredEvent::kAssignedFieldsReserve));
  }
  if (!options.clock) return absl::InvalidArgumentError("clock is not set");
  return Bus(std::make_shared<Ring>(std::move(options)));
}

absl::StatusOr<PublishResult> Bus::Publish(v1::Event event) const {
  EVENTBUS_RETURN_IF_ERROR(ValidateEvent(event));
  if (event.id().empty()) event.set_id(RandomUuid());
  event.clear_sequence();
  event.clear_publish_time();
  // Encode once, outside the lock, behind room for the assigned fields.
  const size_t body_size = event.ByteSizeLong();
  if (body_size > ring_->options().max_event_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("event is ", body_size,
                     " bytes serialized, over the limit "
                     "bus.max_event_bytes = ",
                     ring_->options().max_event_bytes));
  }
  std::string buffer(StoredEvent::kAssignedFieldsReserve + body_size, '\0');
  event.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(
      buffer.data() + StoredEvent::kAssignedFieldsReserve));
  std::string id = event.id();
  EVENTBUS_ASSIGN_OR_RETURN(PublishResult result,
                            ring_->Append(std::make_shared<StoredEvent>(
                                std::move(event), std::move(buffer))));
  result.id = std::move(id);
  return result;
}

absl::StatusOr<std::unique_ptr<Subscription>> Bus::Subscribe(
    SubscribeOptions options) const {
  EVENTBUS_ASSIGN_OR_RETURN(
      uint64_t cursor, ring_->Register(options.start, options.from_sequence));
  return std::unique_ptr<Subscription>(new Subscription(
      ring_, cursor, std::move(options.matcher), std::move(options.name)));
}

void Bus::Close() const { ring_->Close(); }

bool Bus::AwaitNoSubscribers(absl::Time deadline) const {
  return ring_->AwaitNoSubscribers(deadline);
}

uint64_t Bus::subscriber_count() const { return ring_->subscriber_count(); }

uint64_t Bus::next_sequence() const { return ring_->next_sequence(); }

const BusOptions& Bus::options() const { return ring_->options(); }

}  // namespace eventbus

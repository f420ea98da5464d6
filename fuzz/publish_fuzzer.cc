// Fuzzes the Publish path with arbitrary bytes as an
// eventbus.v1.PublishRequest: parse, validate, Bus::Publish on a small bus,
// then read the events back.
//
// The oracle, for each input published once per clock value below:
// - Publish succeeds exactly when ValidateEvent does and the event as sent
//   (without sequence and publish_time) fits bus.max_event_bytes; a rejected
//   event is InvalidArgument and consumes no sequence; a stored event is at
//   most BusOptions::kMaxAssignedBytes larger than the limit.
// - An accepted event gets the next sequence, the clock's time and its own id
//   (or a fresh UUID); a subscriber reads exactly the published events, in
//   order, without lag; each is the input with only those fields changed.
// - The encoding made at publish time has the size of the message's
//   canonical encoding and parses back to an equal Event, alone and inside
//   the SubscribeResponse that WriteSubscribeResponse builds.
// - Filters built from the event match it; a filter for the other type
//   does not.
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "eventbus/v1/eventbus.pb.h"
#include "fuzz/fuzz_check.h"
#include "server/bus/bus.h"
#include "server/bus/event_matcher.h"
#include "server/bus/event_validation.h"
#include "server/grpc/response_encoding.h"

namespace eventbus {
namespace {

using ::google::protobuf::util::MessageDifferencer;

// The fixed limit the fuzz bus starts with; each input also runs against
// limits just at and just under its own size.
constexpr uint64_t kMaxEventBytes = 1024;

// Publish times that stress the encoding of the assigned fields: the epoch
// (an empty Timestamp), before the epoch (negative seconds), an ordinary
// time, and both ends of the Timestamp range.
const std::vector<absl::Time>& Clocks() {
  static const auto* const kClocks = new std::vector<absl::Time>{
      absl::UnixEpoch(),
      absl::UnixEpoch() - absl::Milliseconds(1500),
      absl::FromUnixNanos(1700000000123456789),
      absl::FromUnixSeconds(253402300799) + absl::Nanoseconds(999999999),
      absl::FromUnixSeconds(-62135596800),
  };
  return *kClocks;
}

// What the bus should store for `event` published at `sequence`, `time`.
v1::Event Expected(const v1::Event& event, uint64_t sequence, absl::Time time,
                   const std::string& id) {
  v1::Event expected = event;
  expected.set_sequence(sequence);
  const int64_t seconds = absl::ToUnixSeconds(time);
  expected.mutable_publish_time()->Clear();
  expected.mutable_publish_time()->set_seconds(seconds);
  expected.mutable_publish_time()->set_nanos(static_cast<int32_t>(
      (time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  expected.set_id(id);
  return expected;
}

bool IsUuid(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (id[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(id[i]))) {
      return false;
    }
  }
  return true;
}

void CheckEncoding(const StoredEvent& stored) {
  FUZZ_CHECK(stored.encoded().size() == stored.event().ByteSizeLong());
  v1::Event parsed;
  FUZZ_CHECK(parsed.ParseFromArray(stored.encoded().data(),
                                   static_cast<int>(stored.encoded().size())));
  FUZZ_CHECK(MessageDifferencer::Equals(parsed, stored.event()));
}

void CheckResponse(const ReadBatch& batch) {
  const size_t size = SubscribeResponseSize(batch);
  std::string bytes(size, '\0');
  uint8_t* const begin = reinterpret_cast<uint8_t*>(bytes.data());
  FUZZ_CHECK(WriteSubscribeResponse(batch, begin) == begin + size);
  v1::SubscribeResponse response;
  FUZZ_CHECK(response.ParseFromString(bytes));
  FUZZ_CHECK(response.has_lagged() == batch.lag.has_value());
  FUZZ_CHECK(response.events_size() == static_cast<int>(batch.events.size()));
  for (int i = 0; i < response.events_size(); ++i) {
    FUZZ_CHECK(MessageDifferencer::Equals(response.events(i),
                                          batch.events[i]->event()));
  }
}

void CheckFilters(const v1::Event& event) {
  v1::EventFilter own;
  own.add_types(event.has_audit() ? v1::EVENT_TYPE_AUDIT
                                  : v1::EVENT_TYPE_SPACE_NAME);
  own.mutable_attributes()->insert(event.attributes().begin(),
                                   event.attributes().end());
  const absl::StatusOr<EventMatcher> matcher = EventMatcher::Create(own);
  FUZZ_CHECK(matcher.ok());
  FUZZ_CHECK(matcher->Matches(event));

  v1::EventFilter other;
  other.add_types(event.has_audit() ? v1::EVENT_TYPE_SPACE_NAME
                                    : v1::EVENT_TYPE_AUDIT);
  const absl::StatusOr<EventMatcher> other_matcher =
      EventMatcher::Create(other);
  FUZZ_CHECK(other_matcher.ok());
  FUZZ_CHECK(!other_matcher->Matches(event));
}

// Publishes `event` once per clock value on a fresh bus limited to
// `max_event_bytes`, and checks what a subscriber reads.
void Run(const v1::Event& event, uint64_t max_event_bytes) {
  absl::Time now = absl::UnixEpoch();
  BusOptions options;
  options.capacity = 8;
  options.max_event_bytes = max_event_bytes;
  options.max_subscribers = 2;
  options.clock = [&now] { return now; };
  absl::StatusOr<Bus> bus = Bus::Create(options);
  FUZZ_CHECK(bus.ok());
  absl::StatusOr<std::unique_ptr<Subscription>> subscription =
      bus->Subscribe(SubscribeOptions{});
  FUZZ_CHECK(subscription.ok());

  const absl::Status valid = ValidateEvent(event);
  std::vector<v1::Event> published;
  for (const absl::Time time : Clocks()) {
    now = time;
    const uint64_t sequence = bus->next_sequence();
    const absl::StatusOr<PublishResult> result = bus->Publish(event);
    if (!valid.ok()) {
      FUZZ_CHECK(result.status() == valid);
      FUZZ_CHECK(bus->next_sequence() == sequence);
      continue;
    }
    // A rejected event has no id to compare; a placeholder of a UUID's size
    // stands for the one the bus would have assigned.
    const std::string id = result.ok()          ? result->id
                           : event.id().empty() ? std::string(36, '0')
                                                : event.id();
    const v1::Event expected = Expected(event, sequence, time, id);
    // The limit counts the event as sent, without the sequence and
    // publish_time the bus replaces; what it stores is at most
    // kMaxAssignedBytes larger.
    v1::Event sent = event;
    sent.clear_sequence();
    sent.clear_publish_time();
    if (sent.ByteSizeLong() > max_event_bytes) {
      FUZZ_CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
      FUZZ_CHECK(bus->next_sequence() == sequence);
      continue;
    }
    FUZZ_CHECK(expected.ByteSizeLong() <=
               max_event_bytes + BusOptions::kMaxAssignedBytes);
    if (!result.ok()) {
      std::fprintf(stderr, "rejected: %s\n",
                   result.status().ToString().c_str());
    }
    FUZZ_CHECK(result.ok());
    FUZZ_CHECK(result->sequence == sequence);
    FUZZ_CHECK(result->subscribers == 1);
    FUZZ_CHECK(bus->next_sequence() == sequence + 1);
    if (event.id().empty()) {
      FUZZ_CHECK(IsUuid(result->id));
    } else {
      FUZZ_CHECK(result->id == event.id());
    }
    published.push_back(expected);
  }

  ReadBatch batch;
  (*subscription)->TryRead(ReadLimits{}, &batch);
  FUZZ_CHECK(!batch.lag.has_value());
  FUZZ_CHECK(!batch.end_of_stream);
  FUZZ_CHECK(batch.events.size() == published.size());
  for (size_t i = 0; i < published.size(); ++i) {
    const StoredEvent& stored = *batch.events[i];
    FUZZ_CHECK(stored.sequence() == published[i].sequence());
    if (!MessageDifferencer::Equals(stored.event(), published[i])) {
      std::fprintf(stderr, "stored:\n%s\nexpected:\n%s\n",
                   stored.event().DebugString().c_str(),
                   published[i].DebugString().c_str());
    }
    FUZZ_CHECK(MessageDifferencer::Equals(stored.event(), published[i]));
    CheckEncoding(stored);
  }
  if (!batch.events.empty()) {
    CheckResponse(batch);
    CheckFilters(batch.events[0]->event());
  }
  (*subscription)->TryRead(ReadLimits{}, &batch);
  FUZZ_CHECK(batch.empty());
}

void Run(const v1::PublishRequest& request) {
  // The service answers InvalidArgument before the bus when there is no event.
  if (!request.has_event()) return;
  const v1::Event& event = request.event();
  Run(event, kMaxEventBytes);
  // The size limit at its edge: the event as the first publish stores it
  // (a UUID's worth of id when it has none) fits exactly, or by one byte not.
  const uint64_t size =
      Expected(event, 1, Clocks()[0],
               event.id().empty() ? std::string(36, '0') : event.id())
          .ByteSizeLong();
  const uint64_t min = BusOptions::kMinEventBytes;
  Run(event, std::max(size, min));
  Run(event, std::max(size - 1, min));
}

}  // namespace
}  // namespace eventbus

EVENTBUS_PROTO_FUZZER(eventbus::v1::PublishRequest, eventbus::Run)

// Fuzzes the subscribe path with arbitrary bytes as an
// eventbus.v1.SubscribeRequest: SubscribeOptionsFromRequest, then
// Bus::Subscribe on a bus that already holds (and has overwritten) events,
// then reads checked against a model of the ring.
//
// The request's `name` (for logs only, so any value is valid) doubles as a
// script: each byte publishes, reads with small limits, arms a waker or
// closes the bus. The oracle:
// - FromRequest fails, with InvalidArgument, exactly when a filter type is
//   EVENT_TYPE_UNSPECIFIED or outside EventType or the expression does not
//   compile (FilterExpression, fuzzed on its own by filter_fuzzer, is the
//   model's oracle for the expression); Subscribe fails with
//   InvalidArgument for from_sequence 0 and OutOfRange beyond the next
//   sequence, and otherwise starts where the request asked.
// - Every read returns what the model says: the lag range (from the cursor to
//   just before the oldest retained event), then the matching events in
//   order within the read limits, the new cursor, end_of_stream; its
//   SubscribeResponse encoding parses back to the same lag and events.
// - Arm() succeeds exactly when nothing is readable, and each armed waker is
//   called once by the next publish or close.
// - At the end every sequence from the start to the last published is either
//   received, reported lost, or did not match the filter: exactly one of them.
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "eventbus/v1/eventbus.pb.h"
#include "fuzz/fuzz_check.h"
#include "server/bus/bus.h"
#include "server/filter/expression.h"
#include "server/grpc/response_encoding.h"
#include "server/grpc/subscribe_request.h"

namespace eventbus {
namespace {

using ::google::protobuf::util::MessageDifferencer;

constexpr uint64_t kCapacity = 8;
constexpr uint64_t kPublishedBefore = 20;
constexpr size_t kMaxSteps = 128;
const absl::Time kNow = absl::FromUnixNanos(1700000000000000005);

// Event `sequence` of the run: types and attributes vary with the sequence
// so that filters select some of them.
v1::Event MakeEvent(uint64_t sequence, bool space_name) {
  static const char* const kValues[] = {"a", "b", "c"};
  v1::Event event;
  event.set_id(absl::StrCat("e", sequence));
  event.set_source("fuzz");
  (*event.mutable_attributes())["k"] = kValues[sequence % 3];
  if (sequence % 2 == 1) (*event.mutable_attributes())["env"] = "prod";
  if (space_name) {
    event.mutable_space_name()->set_space("s");
    event.mutable_space_name()->set_name(absl::StrCat(sequence));
  } else {
    event.mutable_audit()->set_username("alice");
    event.mutable_audit()->set_operation(v1::OPERATION_READ);
    event.mutable_audit()->set_resource_id(absl::StrCat(sequence));
  }
  return event;
}

// Counts OnReadable() calls.
class CountingWaker final : public SubscriptionWaker {
 public:
  void OnReadable() override { ++calls; }
  uint64_t calls = 0;
};

// What the subscription should see, kept independently of the bus.
class Model {
 public:
  Model(const v1::EventFilter& filter,
        std::optional<FilterExpression> expression)
      : filter_(filter), expression_(std::move(expression)) {}

  uint64_t next() const { return events_.size() + 1; }
  uint64_t oldest() const {
    return next() > kCapacity ? next() - kCapacity : 1;
  }

  // Records event `sequence` as the bus stores it.
  void Published(v1::Event event) {
    const uint64_t sequence = next();
    event.set_sequence(sequence);
    const int64_t seconds = absl::ToUnixSeconds(kNow);
    event.mutable_publish_time()->set_seconds(seconds);
    event.mutable_publish_time()->set_nanos(static_cast<int32_t>(
        (kNow - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
    events_.push_back(std::move(event));
  }
  const v1::Event& event(uint64_t sequence) const {
    return events_[sequence - 1];
  }

  // The filter's meaning, restated: any of the types, all the attributes,
  // and the expression.
  bool Matches(uint64_t sequence) const {
    const v1::Event& event = events_[sequence - 1];
    if (filter_.types_size() > 0) {
      const int type =
          event.has_audit() ? v1::EVENT_TYPE_AUDIT : v1::EVENT_TYPE_SPACE_NAME;
      if (std::find(filter_.types().begin(), filter_.types().end(), type) ==
          filter_.types().end()) {
        return false;
      }
    }
    for (const auto& [key, value] : filter_.attributes()) {
      const auto it = event.attributes().find(key);
      if (it == event.attributes().end() || it->second != value) return false;
    }
    return !expression_ || expression_->Matches(event);
  }

 private:
  const v1::EventFilter& filter_;
  const std::optional<FilterExpression> expression_;
  std::vector<v1::Event> events_;
};

// What happened to each sequence, from the subscription's point of view.
enum class Fate : uint8_t { kNone, kReceived, kLost, kFiltered };

class Run {
 public:
  Run(const v1::SubscribeRequest& request, Bus bus, Model* model)
      : request_(request), bus_(std::move(bus)), model_(*model) {}

  void Subscribe(const SubscribeOptions& options) {
    const uint64_t next = bus_.next_sequence();
    absl::StatusOr<std::unique_ptr<Subscription>> subscription =
        bus_.Subscribe(options);
    uint64_t start = next;
    switch (request_.start_case()) {
      case v1::SubscribeRequest::kFromSequence:
        if (request_.from_sequence() == 0) {
          FUZZ_CHECK(subscription.status().code() ==
                     absl::StatusCode::kInvalidArgument);
          return;
        }
        if (request_.from_sequence() > next) {
          FUZZ_CHECK(subscription.status().code() ==
                     absl::StatusCode::kOutOfRange);
          return;
        }
        start = request_.from_sequence();
        break;
      case v1::SubscribeRequest::kFromEarliest:
        if (request_.from_earliest()) start = model_.oldest();
        break;
      case v1::SubscribeRequest::START_NOT_SET:
        break;
    }
    FUZZ_CHECK(subscription.ok());
    // What is gone already is told first (one lane: every event is NORMAL).
    if (start < model_.oldest()) {
      start_lag_ = Lag{start, model_.oldest() - 1};
    }
    cursor_ = start_lag_ ? model_.oldest() : start;
    FUZZ_CHECK((*subscription)->cursor() == cursor_);
    FUZZ_CHECK(bus_.subscriber_count() == 1);
    subscription_ = std::move(*subscription);
    start_ = start;
    fates_.assign(start, Fate::kNone);
  }

  bool subscribed() const { return subscription_ != nullptr; }

  void Step(uint8_t byte) {
    const uint32_t arg = byte >> 3;
    switch (byte & 7) {
      case 0:
      case 1:
      case 2:
        Publish(arg % 12 + 1, [byte](uint64_t) { return (byte & 7) == 2; });
        break;
      case 6:
        Arm();
        break;
      case 7:
        if (arg & 1) {
          Close();
          break;
        }
        [[fallthrough]];
      default:
        Read(ReadLimits{(arg & 3) + 1, (arg & 4) ? size_t{1} : 256 * 1024});
    }
    FUZZ_CHECK(waker_->calls == wakes_);
  }

  // Publishes `count` events; `space_name(sequence)` picks their type.
  template <typename TypeChoice>
  void Publish(uint64_t count, TypeChoice space_name) {
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t sequence = model_.next();
      v1::Event event = MakeEvent(sequence, space_name(sequence));
      const absl::StatusOr<PublishResult> result = bus_.Publish(event);
      if (closed_) {
        FUZZ_CHECK(result.status().code() == absl::StatusCode::kUnavailable);
        FUZZ_CHECK(bus_.next_sequence() == sequence);
        continue;
      }
      FUZZ_CHECK(result.ok());
      FUZZ_CHECK(result->sequence == sequence);
      FUZZ_CHECK(result->subscribers == (subscribed() ? 1 : 0));
      model_.Published(std::move(event));
      FUZZ_CHECK(bus_.next_sequence() == model_.next());
      wakes_ += armed_;
      armed_ = 0;
    }
  }

  void Close() {
    bus_.Close();
    if (!closed_) {
      wakes_ += armed_;
      armed_ = 0;
    }
    closed_ = true;
  }

  void Arm() {
    const bool readable = cursor_ < model_.next() || closed_;
    const bool armed = subscription_->Arm(waker_);
    FUZZ_CHECK(armed == !readable);
    if (armed) ++armed_;
  }

  // Reads once and checks the batch against the model; returns whether the
  // read made progress (anything read, lost or skipped).
  bool Read(const ReadLimits& limits) {
    ReadBatch batch;
    subscription_->TryRead(limits, &batch);

    std::optional<Lag> lag = std::exchange(start_lag_, std::nullopt);
    uint64_t cursor = cursor_;
    // A loss since the start comes alone after the one before it.
    bool lag_alone = false;
    if (cursor < model_.oldest()) {
      if (lag) {
        lag_alone = true;
      } else {
        lag = Lag{cursor, model_.oldest() - 1, v1::PRIORITY_NORMAL};
        cursor = model_.oldest();
      }
    }
    std::vector<uint64_t> expected;
    size_t taken = 0;
    size_t bytes = 0;
    while (!lag_alone && cursor < model_.next() && taken < limits.max_events) {
      bytes += model_.event(cursor).ByteSizeLong();
      if (bytes > limits.max_bytes && taken > 0) break;
      ++taken;
      if (model_.Matches(cursor)) expected.push_back(cursor);
      ++cursor;
    }
    const bool end_of_stream = closed_ && !lag && taken == 0;

    FUZZ_CHECK(batch.lag == lag);
    FUZZ_CHECK(batch.end_of_stream == end_of_stream);
    FUZZ_CHECK(subscription_->cursor() == cursor);
    FUZZ_CHECK(batch.events.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      FUZZ_CHECK(batch.events[i]->sequence() == expected[i]);
      FUZZ_CHECK(MessageDifferencer::Equals(batch.events[i]->event(),
                                            model_.event(expected[i])));
    }
    CheckResponse(batch);

    // Account for every sequence the read moved past.
    if (lag) {
      FUZZ_CHECK(lag->first_sequence <= lag->last_sequence);
      for (uint64_t s = lag->first_sequence; s <= lag->last_sequence; ++s) {
        Record(s, Fate::kLost);
      }
    }
    size_t next_expected = 0;
    for (uint64_t s = lag ? lag->last_sequence + 1 : cursor_; s < cursor; ++s) {
      const bool received =
          next_expected < expected.size() && expected[next_expected] == s;
      if (received) ++next_expected;
      Record(s, received ? Fate::kReceived : Fate::kFiltered);
    }
    const bool progress = cursor != cursor_ || lag.has_value();
    cursor_ = cursor;
    ended_ = ended_ || end_of_stream;
    return progress;
  }

  // Reads until the end of the stream, then checks that every sequence from
  // the start has exactly one fate.
  void Finish() {
    for (int i = 0; i < 10000 && Read(ReadLimits{}); ++i) {
    }
    FUZZ_CHECK(cursor_ == model_.next());
    Close();
    Read(ReadLimits{});
    FUZZ_CHECK(ended_);
    Read(ReadLimits{});  // end_of_stream again
    FUZZ_CHECK(waker_->calls == wakes_);

    FUZZ_CHECK(fates_.size() == model_.next());
    uint64_t received = 0;
    uint64_t lost = 0;
    for (uint64_t s = start_; s < model_.next(); ++s) {
      FUZZ_CHECK(fates_[s] != Fate::kNone);
      if (fates_[s] != Fate::kLost) {
        FUZZ_CHECK((fates_[s] == Fate::kReceived) == model_.Matches(s));
      }
      received += fates_[s] == Fate::kReceived;
      lost += fates_[s] == Fate::kLost;
    }
    if (request_.filter().types_size() == 0 &&
        request_.filter().attributes().empty() &&
        request_.filter().expression().empty()) {
      FUZZ_CHECK(received + lost == model_.next() - start_);
    }
    subscription_.reset();
    FUZZ_CHECK(bus_.subscriber_count() == 0);
  }

 private:
  void Record(uint64_t sequence, Fate fate) {
    FUZZ_CHECK(sequence >= start_);
    if (fates_.size() <= sequence) fates_.resize(sequence + 1, Fate::kNone);
    FUZZ_CHECK(fates_[sequence] == Fate::kNone);
    fates_[sequence] = fate;
  }

  static void CheckResponse(const ReadBatch& batch) {
    const size_t size = SubscribeResponseSize(batch);
    std::string bytes(size, '\0');
    uint8_t* const begin = reinterpret_cast<uint8_t*>(bytes.data());
    FUZZ_CHECK(WriteSubscribeResponse(batch, begin) == begin + size);
    v1::SubscribeResponse response;
    FUZZ_CHECK(response.ParseFromString(bytes));
    FUZZ_CHECK(response.has_lagged() == batch.lag.has_value());
    if (batch.lag) {
      FUZZ_CHECK(response.lagged().first_sequence() ==
                 batch.lag->first_sequence);
      FUZZ_CHECK(response.lagged().last_sequence() == batch.lag->last_sequence);
      FUZZ_CHECK(response.lagged().missed() == batch.lag->missed());
    }
    FUZZ_CHECK(response.events_size() == static_cast<int>(batch.events.size()));
    for (int i = 0; i < response.events_size(); ++i) {
      FUZZ_CHECK(MessageDifferencer::Equals(response.events(i),
                                            batch.events[i]->event()));
    }
  }

  const v1::SubscribeRequest& request_;
  Bus bus_;
  Model& model_;
  std::unique_ptr<Subscription> subscription_;
  const std::shared_ptr<CountingWaker> waker_ =
      std::make_shared<CountingWaker>();
  uint64_t start_ = 0;
  // Lost before the start, not yet read.
  std::optional<Lag> start_lag_;
  uint64_t cursor_ = 0;
  bool closed_ = false;
  bool ended_ = false;
  uint64_t armed_ = 0;       // successful Arm() calls not yet woken
  uint64_t wakes_ = 0;       // OnReadable() calls expected so far
  std::vector<Fate> fates_;  // indexed by sequence
};

bool TypesAreValid(const v1::EventFilter& filter) {
  for (const int type : filter.types()) {
    if (type != v1::EVENT_TYPE_AUDIT && type != v1::EVENT_TYPE_SPACE_NAME) {
      return false;
    }
  }
  return true;
}

void Fuzz(const v1::SubscribeRequest& request) {
  absl::StatusOr<SubscribeOptions> options =
      SubscribeOptionsFromRequest(request);
  std::optional<FilterExpression> expression;
  bool valid = TypesAreValid(request.filter()) &&
               v1::Overflow_IsValid(request.overflow());
  if (valid && !request.filter().expression().empty()) {
    absl::StatusOr<FilterExpression> compiled =
        FilterExpression::Compile(request.filter().expression());
    valid = compiled.ok();
    if (valid) expression = *std::move(compiled);
  }
  if (!valid) {
    FUZZ_CHECK(options.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(options.ok());
  FUZZ_CHECK(options->name == request.name());
  // The model is of DROP_OLDEST (overflow_test and bus_stress_test cover the
  // others): a BLOCK reader would hold a publisher forever on this fixed
  // clock, a DISCONNECT one would end where the model loses events.
  options->overflow = Overflow::kDropOldest;

  BusOptions bus_options;
  bus_options.capacity = kCapacity;
  bus_options.max_subscribers = 1;
  bus_options.clock = [] { return kNow; };
  absl::StatusOr<Bus> bus = Bus::Create(bus_options);
  FUZZ_CHECK(bus.ok());

  Model model(request.filter(), std::move(expression));
  Run run(request, *bus, &model);
  run.Publish(kPublishedBefore, [](uint64_t s) { return s % 3 == 0; });
  run.Subscribe(*options);
  if (!run.subscribed()) return;
  // At most one subscriber: a second one is refused.
  FUZZ_CHECK(bus->Subscribe(SubscribeOptions{}).status().code() ==
             absl::StatusCode::kResourceExhausted);
  const std::string& script = request.name();
  for (size_t i = 0; i < script.size() && i < kMaxSteps; ++i) {
    run.Step(static_cast<uint8_t>(script[i]));
  }
  run.Finish();
}

}  // namespace
}  // namespace eventbus

EVENTBUS_PROTO_FUZZER(eventbus::v1::SubscribeRequest, eventbus::Fuzz)

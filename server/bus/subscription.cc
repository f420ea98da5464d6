#include "server/bus/subscription.h"

#include <algorithm>
#include <utility>

#include "server/bus/ring.h"

namespace eventbus {

const char* OverflowName(Overflow overflow) {
  switch (overflow) {
    case Overflow::kDropOldest:
      return "drop-oldest";
    case Overflow::kBlock:
      return "block";
    case Overflow::kDisconnect:
      return "disconnect";
  }
  return "unknown";
}

Subscription::Subscription(std::shared_ptr<Ring> ring,
                           std::unique_ptr<RingReader> reader,
                           Overflow overflow, EventMatcher matcher,
                           std::string name)
    : ring_(std::move(ring)),
      reader_(std::move(reader)),
      overflow_(overflow),
      matcher_(std::move(matcher)),
      name_(std::move(name)) {}

Subscription::~Subscription() { ring_->Unregister(reader_.get()); }

uint64_t Subscription::cursor() const { return ring_->CursorOf(reader_.get()); }

namespace {

// Adds to a counter only this thread writes: no locked instruction.
void Add(std::atomic<uint64_t>* counter, uint64_t n) {
  counter->store(counter->load(std::memory_order_relaxed) + n,
                 std::memory_order_relaxed);
}

}  // namespace

void Subscription::TryRead(const ReadLimits& limits, ReadBatch* batch) {
  ring_->Read(reader_.get(), limits, batch);
  if (batch->lag) Add(&reader_->missed, batch->lag->missed());
  if (!matcher_.MatchesAll()) {
    std::erase_if(batch->events, [this](const auto& event) {
      return !matcher_.Matches(event->event());
    });
  }
  if (!batch->events.empty()) Add(&reader_->received, batch->events.size());
}

void Subscription::Read(absl::Time deadline, const ReadLimits& limits,
                        ReadBatch* batch) {
  while (true) {
    TryRead(limits, batch);
    if (!batch->empty() || !ring_->AwaitReadable(reader_.get(), deadline)) {
      return;
    }
  }
}

bool Subscription::Arm(std::weak_ptr<SubscriptionWaker> waker) {
  return ring_->Arm(reader_.get(), std::move(waker));
}

}  // namespace eventbus

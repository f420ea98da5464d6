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

void Subscription::TryRead(const ReadLimits& limits, ReadBatch* batch) {
  ring_->Read(reader_.get(), limits, batch);
  if (matcher_.MatchesAll()) return;
  std::erase_if(batch->events, [this](const auto& event) {
    return !matcher_.Matches(event->event());
  });
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

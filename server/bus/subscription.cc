#include "server/bus/subscription.h"

#include <algorithm>

#include "server/bus/ring.h"

namespace eventbus {

Subscription::~Subscription() { ring_->Unregister(); }

void Subscription::TryRead(const ReadLimits& limits, ReadBatch* batch) {
  ring_->Read(&cursor_, limits, batch);
  if (matcher_.MatchesAll()) return;
  std::erase_if(batch->events, [this](const auto& event) {
    return !matcher_.Matches(event->event());
  });
}

void Subscription::Read(absl::Time deadline, const ReadLimits& limits,
                        ReadBatch* batch) {
  while (true) {
    TryRead(limits, batch);
    if (!batch->empty() || !ring_->AwaitReadable(cursor_, deadline)) return;
  }
}

bool Subscription::Arm(std::weak_ptr<SubscriptionWaker> waker) {
  return ring_->Arm(cursor_, std::move(waker));
}

}  // namespace eventbus

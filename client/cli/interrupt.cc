#include "client/cli/interrupt.h"

namespace eventbus::cli {

void Interrupt::Trigger() {
  MutexLock lock(&mu_);
  interrupted_ = true;
  if (subscriber_ != nullptr) subscriber_->Stop();
  changed_.SignalAll();
}

bool Interrupt::interrupted() {
  MutexLock lock(&mu_);
  return interrupted_;
}

bool Interrupt::SleepUntil(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (!interrupted_ && changed_.WaitUntil(deadline)) {
  }
  return !interrupted_;
}

void Interrupt::Watch(client::Subscriber* subscriber) {
  MutexLock lock(&mu_);
  subscriber_ = subscriber;
  if (interrupted_ && subscriber_ != nullptr) subscriber_->Stop();
}

Interrupt& ProcessInterrupt() {
  static Interrupt* const instance = new Interrupt;
  return *instance;
}

}  // namespace eventbus::cli

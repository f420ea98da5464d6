// Interrupt: SIGINT or SIGTERM, taken by a thread of its own (sigwait, set
// up by main()), observable by any thread and able to stop a subscription
// and a --rate wait.
#ifndef EVENTBUS_CLIENT_CLI_INTERRUPT_H_
#define EVENTBUS_CLIENT_CLI_INTERRUPT_H_

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "client/subscriber.h"

namespace eventbus::cli {

class Interrupt {
 public:
  Interrupt() = default;
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  // Marks the process interrupted and stops the watched subscriber.
  void Trigger() ABSL_LOCKS_EXCLUDED(mu_);
  bool interrupted() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until `deadline`; returns false when interrupted first.
  bool SleepUntil(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // The subscriber Trigger() stops (nullptr: none). Stops it at once when
  // already interrupted.
  void Watch(client::Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Mutex mu_;
  CondVar changed_{&mu_};
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
  client::Subscriber* subscriber_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// The process's one Interrupt, never destroyed.
Interrupt& ProcessInterrupt();

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_INTERRUPT_H_

// DeliveryQueue: runs subscription wake-ups on threads of its own.
//
// A publish wakes every subscriber that waits for an event. Were each woken
// Subscribe stream to start its write right away, the publishing thread
// would make one gRPC write (and one sendmsg) per subscriber for every
// event, and no response would ever carry more than one event: publishing
// would slow down with each subscriber. Instead the publisher posts the
// woken streams here and goes on; a delivery thread takes them in order and
// each stream then writes everything that arrived meanwhile, so a busy bus
// gets fewer, larger responses while an idle one still writes each event as
// soon as a delivery thread runs.
//
// Owns its threads; the destructor drops what is still queued and joins
// them. Tasks are held by weak reference: a task that is gone by the time
// its turn comes is skipped. Thread-safe.
#ifndef EVENTBUS_SERVER_GRPC_DELIVERY_QUEUE_H_
#define EVENTBUS_SERVER_GRPC_DELIVERY_QUEUE_H_

#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"

namespace eventbus {

class DeliveryQueue {
 public:
  // What a delivery thread runs. Run() must not block.
  class Task {
   public:
    virtual ~Task() = default;
    virtual void Run() = 0;
  };

  // Starts `threads` (at least one) delivery threads.
  explicit DeliveryQueue(int threads);
  ~DeliveryQueue();
  DeliveryQueue(const DeliveryQueue&) = delete;
  DeliveryQueue& operator=(const DeliveryQueue&) = delete;

  // Queues one Run() of `task`.
  void Post(std::weak_ptr<Task> task) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  Mutex mu_;
  CondVar changed_{&mu_};
  std::deque<std::weak_ptr<Task>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_DELIVERY_QUEUE_H_

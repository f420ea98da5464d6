#include "server/grpc/delivery_queue.h"

#include <algorithm>
#include <utility>

namespace eventbus {

DeliveryQueue::DeliveryQueue(int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

DeliveryQueue::~DeliveryQueue() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  for (std::thread& thread : threads_) thread.join();
}

void DeliveryQueue::Post(std::weak_ptr<Task> task) {
  MutexLock lock(&mu_);
  // A thread sleeps only on an empty queue: waking one per post that finds
  // the queue non-empty would cost a system call each for nothing.
  if (queue_.empty()) changed_.Signal();
  queue_.push_back(std::move(task));
}

void DeliveryQueue::Loop() {
  std::deque<std::weak_ptr<Task>> batch;
  while (true) {
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) {
        changed_.WaitUntil(absl::InfiniteFuture());
      }
      if (stopping_) return;
      batch.swap(queue_);
      // Others may sleep while this thread works through the batch; a
      // post to the now empty queue wakes one of them.
    }
    for (const std::weak_ptr<Task>& weak : batch) {
      if (std::shared_ptr<Task> task = weak.lock()) task->Run();
    }
    batch.clear();
  }
}

}  // namespace eventbus

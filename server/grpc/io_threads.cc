#include "server/grpc/io_threads.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/time/clock.h"

namespace eventbus {

IoThreads::IoThreads(grpc::ServerBuilder* builder, int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) {
    queues_.push_back(builder->AddCompletionQueue());
  }
}

IoThreads::~IoThreads() { Stop(); }

void IoThreads::Start() {
  for (auto& queue : queues_) {
    threads_.emplace_back([queue = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (queue->Next(&tag, &ok)) static_cast<IoTag*>(tag)->Complete(ok);
    });
  }
}

IoThreads::CallToken::CallToken(IoThreads* io) : io_(io) {
  MutexLock lock(&io_->mu_);
  ++io_->calls_;
}

IoThreads::CallToken::~CallToken() {
  MutexLock lock(&io_->mu_);
  if (--io_->calls_ == 0) io_->ended_.SignalAll();
}

void IoThreads::Stop() {
  if (stopping()) return;
  if (!threads_.empty()) {
    // Cancelled calls and refused requests come back on running threads.
    MutexLock lock(&mu_);
    while (calls_ > 0) {
      if (!ended_.WaitUntil(absl::Now() + kStopWait)) {
        spdlog::warn("stopping: {} calls have not ended yet", calls_);
      }
    }
  }
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  for (auto& queue : queues_) queue->Shutdown();
  if (threads_.empty()) {
    // Never started: drain here what the server handed back.
    for (auto& queue : queues_) {
      void* tag = nullptr;
      bool ok = false;
      while (queue->Next(&tag, &ok)) static_cast<IoTag*>(tag)->Complete(ok);
    }
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace eventbus

// IoThreads: the server's completion queues, each drained by one thread of
// its own (gRPC's perf guidance: one queue per thread).
//
// The hot path (Subscribe streams, subscribe_call.h) runs on these queues
// with gRPC's asynchronous API: a call's operations complete on its queue,
// and that queue's thread handles them and starts the call's next write.
// In gRPC 1.51 the callback API always runs on its two internal "nexting"
// threads, which hand the poller back and forth (~35 context switches per
// event measured on W2); here a completion costs no hop.
//
// Every operation started on a queue names an IoTag, whose Complete runs on
// that queue's thread. Calls count themselves (CallStarted, CallEnded).
// Stop() (after the server's Shutdown, which cancels every call and every
// pending request) waits for the calls to end, at most kStopWait, then sets
// stopping(), after which tags must not start new operations, shuts the
// queues down and joins the threads once every pending operation has come
// back.
#ifndef EVENTBUS_SERVER_GRPC_IO_THREADS_H_
#define EVENTBUS_SERVER_GRPC_IO_THREADS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"

namespace eventbus {

// What an operation on an IoThreads queue names as its tag.
class IoTag {
 public:
  virtual ~IoTag() = default;
  // On the queue's thread; `ok` is the operation's outcome.
  virtual void Complete(bool ok) = 0;
};

class IoThreads {
 public:
  static constexpr absl::Duration kStopWait = absl::Seconds(10);

  // Adds `threads` (at least 1) completion queues to `builder`; Start them
  // once the server is built.
  IoThreads(grpc::ServerBuilder* builder, int threads);
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  // Starts one thread per queue.
  void Start();
  // Call after the server's Shutdown: see above. Idempotent.
  void Stop();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  void CallStarted() ABSL_LOCKS_EXCLUDED(mu_);
  void CallEnded() ABSL_LOCKS_EXCLUDED(mu_);

  int size() const { return static_cast<int>(queues_.size()); }
  grpc::ServerCompletionQueue* queue(int i) const { return queues_[i].get(); }

 private:
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  Mutex mu_;
  CondVar ended_{&mu_};
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_IO_THREADS_H_

// IoThreads: the server's completion queues, each drained by one thread of
// its own (gRPC's perf guidance: one queue per thread).
//
// The hot path (Subscribe streams, subscribe_call.h, and PublishStream
// calls, publish_stream_call.h) runs on these queues with gRPC's
// asynchronous API: a call's operations complete on its queue, and that
// queue's thread handles them and starts the call's next write.
// In gRPC 1.51 the callback API always runs on its two internal "nexting"
// threads, which hand the poller back and forth (~35 context switches per
// event measured on W2); here a completion costs no hop.
//
// Every operation started on a queue names an IoTag, whose Complete runs on
// that queue's thread. Each call holds a CallToken for its whole life.
// Stop() (after the server's Shutdown, which cancels every call and every
// pending request) waits for every call to end (logging every kStopWait
// while some remain), then sets stopping(), shuts the queues down and
// joins the threads. With no call left, no operation can start on a queue
// after its Shutdown (which would abort).
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

// An IoTag that calls `handler` of `call` with the operation's outcome: a
// call has one per kind of completion.
template <typename Call>
class MemberTag final : public IoTag {
 public:
  MemberTag(Call* call, void (Call::*handler)(bool))
      : call_(call), handler_(handler) {}
  void Complete(bool ok) override { (call_->*handler_)(ok); }

 private:
  Call* const call_;
  void (Call::*const handler_)(bool);
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

  // Counts one call from construction to destruction. Declare it as a
  // call's first member, so that it is destroyed after all the others.
  class CallToken {
   public:
    explicit CallToken(IoThreads* io);
    ~CallToken();
    CallToken(const CallToken&) = delete;
    CallToken& operator=(const CallToken&) = delete;

   private:
    IoThreads* const io_;
  };

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

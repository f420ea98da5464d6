// SharedStream: one SubscribeStream call that many Subscribers share
// (SubscriberOptions::shared_stream). A tool that watches many things pays
// the daemon one HTTP/2 stream (about 21 KB) for all of them instead of one
// per subscription.
//
// The call opens when the first subscription is added and whenever one is
// added after it broke. Its reader thread hands each response to the inbox
// of the subscription it names; a full inbox (kInboxCapacity responses)
// makes the reader wait, so a subscriber whose handler is slow slows the
// whole stream, and every subscription on it then falls behind by its own
// overflow policy, as on a Subscribe stream of its own. When the call
// breaks, every subscription on it ends with the call's status (UNAVAILABLE
// when it ended with OK), and each Subscriber resumes as it would after a
// Subscribe stream broke, on a new call.
//
// Thread-safe. Subscribers hold a reference to the stream; the destructor
// (once none is left) cancels the call and joins its reader.
#ifndef EVENTBUS_CLIENT_SHARED_STREAM_H_
#define EVENTBUS_CLIENT_SHARED_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::client {

class SharedStream {
 private:
  struct Call;

 public:
  // Responses waiting in one subscription's inbox before the reader waits.
  static constexpr size_t kInboxCapacity = 64;

  static std::shared_ptr<SharedStream> Create(
      std::shared_ptr<grpc::Channel> channel);
  ~SharedStream();
  SharedStream(const SharedStream&) = delete;
  SharedStream& operator=(const SharedStream&) = delete;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // One subscription's responses, in order: SubscriptionStarted, then
  // SubscribeResponses, then SubscriptionEnded; or SubscriptionEnded alone.
  class Inbox {
   public:
    struct Item {
      v1::SubscribeStreamResponse response;
      // The call's eventbus-instance.
      std::string instance;
    };
    // The next response; nullopt once closed.
    std::optional<Item> Next() ABSL_LOCKS_EXCLUDED(mu_);
    // Next() returns nullopt from now on; what arrives is dropped.
    void Close() ABSL_LOCKS_EXCLUDED(mu_);

   private:
    friend class SharedStream;
    // Waits for room; false (dropped) once closed.
    bool Push(Item item) ABSL_LOCKS_EXCLUDED(mu_);

    // Set by Add, under SharedStream::mu_.
    uint64_t id_ = 0;
    std::weak_ptr<Call> call_;
    Mutex mu_;
    CondVar changed_{&mu_};
    std::deque<Item> items_ ABSL_GUARDED_BY(mu_);
    bool closed_ ABSL_GUARDED_BY(mu_) = false;
  };

  // Adds a subscription with `request` (opening the call if none is open)
  // and returns its inbox. Its first response says whether it started.
  std::shared_ptr<Inbox> Add(const v1::SubscribeRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels the subscription of `inbox` (its SubscriptionEnded still
  // comes) and closes the inbox.
  void Cancel(const std::shared_ptr<Inbox>& inbox) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One SubscribeStream call.
  struct Call {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeStreamRequest,
                                             v1::SubscribeStreamResponse>>
        stream;
    // Serializes writes (the reader thread reads meanwhile) and orders
    // them before Finish.
    Mutex write_mu;
    bool writes_closed ABSL_GUARDED_BY(write_mu) = false;
    std::thread reader;
    // Its open subscriptions; guarded by SharedStream::mu_.
    absl::flat_hash_map<uint64_t, std::shared_ptr<Inbox>> inboxes;
    bool broken = false;  // guarded by SharedStream::mu_
    // The reader's last step is done: joining it does not wait.
    std::atomic<bool> read_done{false};
  };

  explicit SharedStream(std::shared_ptr<grpc::Channel> channel);
  void Read(Call* call) ABSL_LOCKS_EXCLUDED(mu_);
  static void Write(Call* call, const v1::SubscribeStreamRequest& request);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::EventBusService::Stub> stub_;

  Mutex mu_;
  std::shared_ptr<Call> call_ ABSL_GUARDED_BY(mu_);
  // Broken calls whose reader is still to be joined.
  std::vector<std::shared_ptr<Call>> retired_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace eventbus::client

#endif  // EVENTBUS_CLIENT_SHARED_STREAM_H_

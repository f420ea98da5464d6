// StreamPublisher: one PublishStream call that publishes SampleEvent()s as
// fast as allowed (or at a paced rate), keeping at most `window` events
// unacknowledged, on two threads of its own (one writes, one reads acks).
//
// It stops after `count` events, on Stop(), or when the stream breaks (for
// example with UNAVAILABLE once the daemon drains). Join() returns what was
// acknowledged and how the stream ended.
//
// Thread-safe: Stop(), acked() and Join() may be called from any thread;
// Join() once.
#ifndef EVENTBUS_TESTS_FAULT_STREAM_PUBLISHER_H_
#define EVENTBUS_TESTS_FAULT_STREAM_PUBLISHER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::fault {

struct StreamPublisherOptions {
  // Events to publish; 0: until Stop().
  uint64_t count = 0;
  // Events per second; 0: as fast as the window allows.
  double rate = 0;
  // Most events sent and not acknowledged.
  uint64_t window = 2048;
  // Keep every acknowledged sequence (for the drain scenario).
  bool record_sequences = false;
  // Keep every acknowledged event's id too, beside its sequence (for the
  // crash scenario); needs record_sequences.
  bool record_ids = false;
};

struct StreamPublisherResult {
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t max_sequence = 0;
  // Acknowledged sequences, ascending, when record_sequences.
  std::vector<uint64_t> sequences;
  // The id of each of `sequences`, when record_ids.
  std::vector<std::string> ids;
  grpc::Status status;
  // Acknowledged sequences that did not increase (the daemon acknowledges
  // in order).
  uint64_t out_of_order_acks = 0;
};

class StreamPublisher {
 public:
  StreamPublisher(std::shared_ptr<grpc::Channel> channel,
                  StreamPublisherOptions options);
  ~StreamPublisher();

  // Stops sending; the events in flight are still acknowledged.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t acked() const { return acked_.load(); }
  // Waits until `count` events are acknowledged or the stream ended;
  // returns whether they are.
  bool AwaitAcked(uint64_t count, absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for both threads and the stream's status.
  StreamPublisherResult Join() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Write() ABSL_LOCKS_EXCLUDED(mu_);
  void ReadAcks() ABSL_LOCKS_EXCLUDED(mu_);

  const StreamPublisherOptions options_;
  std::unique_ptr<v1::EventBusService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::PublishStreamRequest,
                                           v1::PublishStreamResponse>>
      stream_;
  std::atomic<uint64_t> acked_{0};
  Mutex mu_;
  CondVar changed_{&mu_};
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool reader_done_ ABSL_GUARDED_BY(mu_) = false;
  StreamPublisherResult result_ ABSL_GUARDED_BY(mu_);
  bool joined_ = false;
  std::thread writer_;
  std::thread reader_;
};

}  // namespace eventbus::fault

#endif  // EVENTBUS_TESTS_FAULT_STREAM_PUBLISHER_H_

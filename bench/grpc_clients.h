// The gRPC clients of eventbus-bench's workloads, shared by grpc_workloads.cc
// (W1-W4) and durable_workloads.cc (W5, W6): completion-queue threads, a
// lean Subscribe stream that scans wire bytes in place (and a SubscribeStream
// carrying many subscriptions, for W4 --multiplexed), publishers on the
// unary Publish and on PublishStream with a window, and the waiting and
// percentile helpers. Each class says which threads may call it.
#ifndef EVENTBUS_BENCH_GRPC_CLIENTS_H_
#define EVENTBUS_BENCH_GRPC_CLIENTS_H_

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_event.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::bench {

inline constexpr char kSubscribeMethod[] =
    "/eventbus.v1.EventBusService/Subscribe";
inline constexpr char kSubscribeStreamMethod[] =
    "/eventbus.v1.EventBusService/SubscribeStream";

// What a completion-queue tag points at.
class CompletionHandler {
 public:
  virtual ~CompletionHandler() = default;
  virtual void OnComplete(bool ok) = 0;
};

// One gRPC completion queue and the thread that drives it; its tags are
// CompletionHandler pointers.
class CompletionThread {
 public:
  CompletionThread()
      : thread_([this] {
          void* tag;
          bool ok;
          while (queue_.Next(&tag, &ok)) {
            static_cast<CompletionHandler*>(tag)->OnComplete(ok);
          }
        }) {}
  // Call Shutdown() first, once nothing new is started on the queue.
  ~CompletionThread() { thread_.join(); }

  grpc::CompletionQueue* queue() { return &queue_; }
  void Shutdown() { queue_.Shutdown(); }

 private:
  grpc::CompletionQueue queue_;
  std::thread thread_;
};

// A handler that forwards to a member function; one per kind of operation.
template <typename T, void (T::*kMethod)(bool)>
class OpTag final : public CompletionHandler {
 public:
  explicit OpTag(T* owner) : owner_(owner) {}
  void OnComplete(bool ok) override { (owner_->*kMethod)(ok); }

 private:
  T* const owner_;
};

// A channel with a connection of its own: a local subchannel pool and an
// argument no other channel has, so gRPC never shares its connection.
inline std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                                 int index, bool bdp_probe) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("eventbus.bench.channel", index);
  if (!bdp_probe) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// What one subscription received: the counters every workload reports.
// A subscription's responses are scanned on one CompletionThread, one at a
// time, so the counters have a single writer; the main thread reads the
// atomics (acquire) while it waits, and the rest once the subscription is
// finished.
class SubscriberCounters : public ResponseVisitor {
 public:
  explicit SubscriberCounters(size_t latency_capacity) {
    latencies_.reserve(latency_capacity);
  }

  // The daemon registered the subscription (headers, or SubscriptionStarted).
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // The subscription has ended (its stream, or SubscriptionEnded).
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  // Events received, and events the daemon reported lost.
  uint64_t received() const {
    return received_.load(std::memory_order_acquire);
  }
  uint64_t missed() const { return missed_.load(std::memory_order_acquire); }
  int64_t last_receive_ns() const {
    return last_receive_ns_.load(std::memory_order_acquire);
  }
  uint64_t lag_notices() const { return lag_notices_; }
  uint64_t responses() const { return responses_; }
  // Sequence numbers neither received nor in a Lagged range.
  uint64_t gaps() const { return gaps_; }
  // Events stamped earlier than an event of a lower sequence.
  uint64_t reordered() const { return reordered_; }
  bool malformed() const { return malformed_; }
  const std::vector<int64_t>& latencies() const { return latencies_; }

  void OnLagged(const ScannedLag& lag) override {
    ++lag_notices_;
    missed_local_ += lag.missed;
    if (lag.first_sequence != last_sequence_ + 1) ++gaps_;
    last_sequence_ = lag.last_sequence;
  }

  void OnEvent(const ScannedEvent& event) override {
    ++received_local_;
    if (event.sequence != last_sequence_ + 1) ++gaps_;
    last_sequence_ = event.sequence;
    if (event.stamp_ns < max_stamp_) {
      ++reordered_;
    } else {
      max_stamp_ = event.stamp_ns;
    }
    if (latencies_.size() < latencies_.capacity()) {
      latencies_.push_back(now_ns_ - event.stamp_ns);
    }
  }

 protected:
  void SetReady() { ready_.store(true, std::memory_order_release); }
  void SetFinished() { finished_.store(true, std::memory_order_release); }

  // Scans one SubscribeResponse's bytes, received at `now_ns`, and
  // publishes the counters.
  void CountResponse(const uint8_t* data, size_t size, int64_t now_ns) {
    now_ns_ = now_ns;
    ++responses_;
    if (!ScanSubscribeResponse(data, size, this)) malformed_ = true;
    missed_.store(missed_local_, std::memory_order_relaxed);
    last_receive_ns_.store(now_ns_, std::memory_order_relaxed);
    received_.store(received_local_, std::memory_order_release);
  }

 private:
  std::atomic<bool> ready_{false};
  std::atomic<bool> finished_{false};
  // Written by the completion thread only.
  int64_t now_ns_ = 0;
  uint64_t received_local_ = 0;
  uint64_t missed_local_ = 0;
  uint64_t last_sequence_ = 0;
  int64_t max_stamp_ = 0;
  uint64_t lag_notices_ = 0;
  uint64_t responses_ = 0;
  uint64_t gaps_ = 0;
  uint64_t reordered_ = 0;
  bool malformed_ = false;
  std::vector<int64_t> latencies_;
  // Published to the main thread.
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> missed_{0};
  std::atomic<int64_t> last_receive_ns_{0};
};

// A received message as one contiguous run of bytes: the slice itself when
// gRPC delivered one, else a copy into `scratch`.
inline std::pair<const uint8_t*, size_t> Contiguous(grpc::ByteBuffer* buffer,
                                                    grpc::Slice* slice,
                                                    std::string* scratch) {
  if (buffer->TrySingleSlice(slice).ok()) {
    return {slice->begin(), slice->size()};
  }
  std::vector<grpc::Slice> slices;
  (void)buffer->Dump(&slices);
  scratch->clear();
  for (const grpc::Slice& part : slices) {
    scratch->append(reinterpret_cast<const char*>(part.begin()), part.size());
  }
  return {reinterpret_cast<const uint8_t*>(scratch->data()), scratch->size()};
}

// One Subscribe stream and what it received.
class StreamSubscriber final : public SubscriberCounters {
 public:
  // `stalled`: reads nothing until StartReading(). `latency_capacity`:
  // latency samples kept (the first ones). `from_earliest`: starts with the
  // oldest event the bus retains (a replay) instead of the next one.
  StreamSubscriber(grpc::GenericStub* stub, grpc::CompletionQueue* queue,
                   const std::string& name, bool stalled,
                   size_t latency_capacity,
                   v1::Overflow overflow = v1::OVERFLOW_DROP_OLDEST,
                   bool from_earliest = false)
      : SubscriberCounters(latency_capacity),
        stub_(stub),
        queue_(queue),
        reading_(!stalled) {
    v1::SubscribeRequest request;
    request.set_name(name);
    request.set_overflow(overflow);
    if (from_earliest) request.set_from_earliest(true);
    const std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    request_ = grpc::ByteBuffer(&slice, 1);
  }

  void Start() {
    call_ = stub_->PrepareCall(&context_, kSubscribeMethod, queue_);
    call_->StartCall(&start_tag_);
  }

  // Begins reading a stalled stream (after ready()).
  void StartReading() {
    reading_ = true;
    call_->Read(&buffer_, &read_tag_);
  }

  // Cancels the stream; finished() turns true once gRPC is done with it.
  void Cancel() {
    context_.TryCancel();
    // A stalled stream that never read has no operation that would fail.
    if (ready() && !reading_) Finish();
  }

  // The stream ended before Cancel(): closed by the daemon or broken.
  bool ended_early() const { return ended_early_; }
  const grpc::Status& status() const { return status_; }

 private:
  void OnStarted(bool ok) {
    if (!ok) return Finish();
    call_->WriteLast(request_, grpc::WriteOptions(), &write_tag_);
    call_->ReadInitialMetadata(&metadata_tag_);
  }

  void OnWritten(bool) {}  // a failed write fails the reads too

  void OnMetadata(bool ok) {
    if (!ok) return Finish();
    SetReady();
    if (reading_) call_->Read(&buffer_, &read_tag_);
  }

  void OnRead(bool ok) {
    if (!ok) return Finish();
    const int64_t now_ns = MonotonicNanos();
    grpc::Slice slice;
    const auto [data, size] = Contiguous(&buffer_, &slice, &scratch_);
    CountResponse(data, size, now_ns);
    buffer_.Clear();
    call_->Read(&buffer_, &read_tag_);
  }

  void Finish() {
    if (finish_started_.exchange(true)) return;
    call_->Finish(&status_, &finish_tag_);
  }

  void OnFinished(bool) {
    ended_early_ = !context_cancelled();
    SetFinished();
  }

  bool context_cancelled() const {
    return status_.error_code() == grpc::StatusCode::CANCELLED;
  }

  grpc::GenericStub* const stub_;
  grpc::CompletionQueue* const queue_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer buffer_;
  std::string scratch_;
  grpc::Status status_;
  std::atomic<bool> reading_;
  std::atomic<bool> finish_started_{false};
  bool ended_early_ = false;

  OpTag<StreamSubscriber, &StreamSubscriber::OnStarted> start_tag_{this};
  OpTag<StreamSubscriber, &StreamSubscriber::OnWritten> write_tag_{this};
  OpTag<StreamSubscriber, &StreamSubscriber::OnMetadata> metadata_tag_{this};
  OpTag<StreamSubscriber, &StreamSubscriber::OnRead> read_tag_{this};
  OpTag<StreamSubscriber, &StreamSubscriber::OnFinished> finish_tag_{this};
};

// One SubscribeStream call carrying many subscriptions (W4 --multiplexed):
// it adds them one request at a time, then reads the responses and counts
// each SubscribeResponse for the subscription it names.
class MultiplexedStream final {
 public:
  // One subscription of the stream.
  class Subscription final : public SubscriberCounters {
   public:
    using SubscriberCounters::SubscriberCounters;

   private:
    friend class MultiplexedStream;
  };

  // Subscriptions named `prefix` + i for i in [0, count), with ids 0.. .
  MultiplexedStream(grpc::GenericStub* stub, grpc::CompletionQueue* queue,
                    const std::string& prefix, int count,
                    size_t latency_capacity, v1::Overflow overflow)
      : stub_(stub), queue_(queue) {
    for (int i = 0; i < count; ++i) {
      subscriptions_.push_back(
          std::make_unique<Subscription>(latency_capacity));
      v1::SubscribeStreamRequest request;
      request.mutable_add()->set_subscription_id(i);
      request.mutable_add()->mutable_request()->set_name(
          absl::StrCat(prefix, i));
      request.mutable_add()->mutable_request()->set_overflow(overflow);
      const std::string bytes = request.SerializeAsString();
      grpc::Slice slice(bytes);
      requests_.emplace_back(&slice, 1);
    }
  }

  void Start() {
    call_ = stub_->PrepareCall(&context_, kSubscribeStreamMethod, queue_);
    call_->StartCall(&start_tag_);
  }

  // Cancels the call; every subscription is finished once gRPC is done.
  void Cancel() { context_.TryCancel(); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  const grpc::Status& status() const { return status_; }

  const std::vector<std::unique_ptr<Subscription>>& subscriptions() const {
    return subscriptions_;
  }

 private:
  void OnStarted(bool ok) {
    if (!ok) return Finish();
    call_->Read(&buffer_, &read_tag_);
    WriteNext();
  }

  void WriteNext() {
    if (next_request_ == requests_.size()) return;
    call_->Write(requests_[next_request_++], &write_tag_);
  }

  void OnWritten(bool ok) {
    if (ok) WriteNext();  // a failed write fails the reads too
  }

  void OnRead(bool ok) {
    if (!ok) return Finish();
    const int64_t now_ns = MonotonicNanos();
    grpc::Slice slice;
    const auto [data, size] = Contiguous(&buffer_, &slice, &scratch_);
    Dispatch(data, size, now_ns);
    buffer_.Clear();
    call_->Read(&buffer_, &read_tag_);
  }

  // SubscribeStreamResponse: subscription_id (1), then started (2),
  // response (3) or ended (4).
  void Dispatch(const uint8_t* data, size_t size, int64_t now_ns) {
    google::protobuf::io::CodedInputStream in(data, static_cast<int>(size));
    uint64_t id = 0;
    int kind = 0;
    const uint8_t* body = nullptr;
    uint32_t body_size = 0;
    while (uint32_t tag = in.ReadTag()) {
      const int field = static_cast<int>(tag >> 3);
      if (field == 1 && (tag & 7) == 0) {
        if (!in.ReadVarint64(&id)) return;
      } else if (field >= 2 && field <= 4 && (tag & 7) == 2) {
        if (!in.ReadVarint32(&body_size)) return;
        const void* at = nullptr;
        int available = 0;
        if (body_size > 0 && (!in.GetDirectBufferPointer(&at, &available) ||
                              static_cast<uint32_t>(available) < body_size)) {
          return;
        }
        kind = field;
        body = static_cast<const uint8_t*>(at);
        if (!in.Skip(static_cast<int>(body_size))) return;
      } else if (!google::protobuf::internal::WireFormatLite::SkipField(&in,
                                                                        tag)) {
        return;
      }
    }
    if (id >= subscriptions_.size()) return;
    Subscription& subscription = *subscriptions_[id];
    if (kind == 2) {
      subscription.SetReady();
    } else if (kind == 3) {
      subscription.CountResponse(body, body_size, now_ns);
    } else if (kind == 4) {
      subscription.SetFinished();
    }
  }

  void Finish() {
    if (finish_started_.exchange(true)) return;
    call_->Finish(&status_, &finish_tag_);
  }

  void OnFinished(bool) {
    for (auto& subscription : subscriptions_) subscription->SetFinished();
    finished_.store(true, std::memory_order_release);
  }

  grpc::GenericStub* const stub_;
  grpc::CompletionQueue* const queue_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
  std::vector<grpc::ByteBuffer> requests_;
  size_t next_request_ = 0;
  grpc::ByteBuffer buffer_;
  std::string scratch_;
  grpc::Status status_;
  std::atomic<bool> finish_started_{false};
  std::atomic<bool> finished_{false};

  OpTag<MultiplexedStream, &MultiplexedStream::OnStarted> start_tag_{this};
  OpTag<MultiplexedStream, &MultiplexedStream::OnWritten> write_tag_{this};
  OpTag<MultiplexedStream, &MultiplexedStream::OnRead> read_tag_{this};
  OpTag<MultiplexedStream, &MultiplexedStream::OnFinished> finish_tag_{this};
};

// A publisher of the bench event: event() is the event the next Publish()
// sends (the caller stamps it). Called from one thread.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  virtual v1::Event* event() = 0;
  // Sends event(); waits first while the window is full.
  virtual void Publish() = 0;
  // Waits until every event is acknowledged (or failed). Call once, last.
  virtual void Flush() = 0;
  // Acknowledged sequences that did not follow the previous one by one.
  virtual uint64_t acks_out_of_order() const { return 0; }

  // Events that failed, and the first failure.
  uint64_t errors() const ABSL_LOCKS_EXCLUDED(errors_mu_) {
    absl::MutexLock lock(&errors_mu_);
    return errors_;
  }
  std::string first_error() const ABSL_LOCKS_EXCLUDED(errors_mu_) {
    absl::MutexLock lock(&errors_mu_);
    return first_error_;
  }

 protected:
  // Counts `count` failed events; `describe` names the failure when it is
  // the first. Thread-safe.
  template <typename Describe>
  void AddErrors(uint64_t count, Describe describe)
      ABSL_LOCKS_EXCLUDED(errors_mu_) {
    absl::MutexLock lock(&errors_mu_);
    if (errors_ == 0) first_error_ = describe();
    errors_ += count;
  }

 private:
  mutable absl::Mutex errors_mu_;
  uint64_t errors_ ABSL_GUARDED_BY(errors_mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(errors_mu_);
};

// Unary Publish with up to `window` calls in flight on one channel. Publish()
// is called from one thread; completions arrive on a thread of its own.
class Publisher final : public EventPublisher {
 public:
  Publisher(std::shared_ptr<grpc::Channel> channel, int window)
      : stub_(v1::EventBusService::NewStub(std::move(channel))),
        window_(window) {}
  ~Publisher() override {
    Flush();
    completions_.Shutdown();
  }

  v1::Event* event() override { return request_.mutable_event(); }
  void Publish() override { Publish(request_); }

  // Starts one Publish; waits first while `window` calls are in flight.
  void Publish(const v1::PublishRequest& request) ABSL_LOCKS_EXCLUDED(mu_) {
    if (window_ == 1) {
      // One call at a time: the blocking call polls on this thread, which
      // saves two thread hand-offs per event.
      grpc::ClientContext context;
      v1::PublishResponse response;
      Done(stub_->Publish(&context, request, &response));
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Publisher::HasRoom));
      ++in_flight_;
    }
    auto* call = new Call(this);
    // The request is serialized here; the caller may change it right after.
    call->reader = stub_->PrepareAsyncPublish(&call->context, request,
                                              completions_.queue());
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  }

  // Waits until every call completed.
  void Flush() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &Publisher::Idle));
  }

 private:
  struct Call final : public CompletionHandler {
    explicit Call(Publisher* publisher) : publisher(publisher) {}
    void OnComplete(bool) override {
      publisher->Done(status);
      delete this;
    }
    Publisher* const publisher;
    grpc::ClientContext context;
    v1::PublishResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::PublishResponse>>
        reader;
  };

  void Done(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    if (!status.ok()) {
      AddErrors(1, [&] {
        return absl::StrCat(status.error_code(), ": ", status.error_message());
      });
    }
    absl::MutexLock lock(&mu_);
    if (window_ > 1) --in_flight_;
  }
  static std::vector<int64_t> Reserved(size_t capacity) {
    std::vector<int64_t> vector;
    vector.reserve(capacity);
    return vector;
  }
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ < window_;
  }
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ == 0;
  }

  std::unique_ptr<v1::EventBusService::Stub> stub_;
  const int window_;
  v1::PublishRequest request_;
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  CompletionThread completions_;
};

// PublishStream with at most `window` events unacknowledged: the fastest
// publish path. Publish() writes on the calling thread (the sync API polls
// on it, no hand-off); a reader thread takes the acknowledgements, which
// come in order. With `flush_every` > 1, events are sent `flush_every` to a
// request (PublishStreamRequest.events), and a short batch whenever the
// window is about to fill: the daemon reads one message per batch.
class StreamPublisher final : public EventPublisher {
 public:
  // `flush_every`: 1 sends each event at once (paced runs).
  // `keep_latencies`: ack latencies kept (the first events').
  StreamPublisher(std::shared_ptr<grpc::Channel> channel, int window,
                  uint64_t flush_every, size_t keep_latencies = 0)
      : stub_(v1::EventBusService::NewStub(std::move(channel))),
        window_(static_cast<uint64_t>(std::max(window, 1))),
        flush_every_(std::max<uint64_t>(flush_every, 1)),
        stream_(stub_->PublishStream(&context_)),
        sent_ns_(keep_latencies),
        latencies_(Reserved(keep_latencies)),
        reader_([this] { ReadAcks(); }) {}
  ~StreamPublisher() override { Flush(); }

  v1::Event* event() override { return &event_; }

  // The ack latency (Publish() sending it, once the window let it go, to
  // its ack read) of the first
  // `keep_latencies` events, in nanoseconds, in order; read after Flush().
  const std::vector<int64_t>& ack_latencies() const { return latencies_; }

  void Publish() override ABSL_LOCKS_EXCLUDED(mu_) {
    if (sent_ - acked_.load(std::memory_order_acquire) >= window_) {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &StreamPublisher::HasRoom));
    }
    if (sent_ < sent_ns_.size()) {
      sent_ns_[sent_].store(MonotonicNanos(), std::memory_order_release);
    }
    ++sent_;
    if (flush_every_ == 1) {
      *request_.mutable_event() = event_;
    } else {
      *request_.add_events() = event_;
    }
    if (request_.events_size() < static_cast<int>(flush_every_) &&
        flush_every_ > 1 &&
        sent_ - acked_.load(std::memory_order_acquire) < window_) {
      return;  // the batch fills on
    }
    WriteRequest();
  }

  void Flush() override ABSL_LOCKS_EXCLUDED(mu_) {
    if (finished_) return;
    finished_ = true;
    if (request_.events_size() > 0) WriteRequest();
    stream_->WritesDone();
    reader_.join();
    const grpc::Status status = stream_->Finish();
    absl::MutexLock lock(&mu_);
    const uint64_t unacked = sent_ - acked_.load(std::memory_order_relaxed);
    const uint64_t write_failures = write_failures_;
    if (!status.ok() || unacked > 0) {
      AddErrors(std::max<uint64_t>(unacked, 1), [&] {
        return absl::StrCat(status.error_code(), ": ", status.error_message(),
                            " (", unacked, " events unacknowledged, ",
                            write_failures, " writes failed)");
      });
    }
  }

  uint64_t acks_out_of_order() const override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return out_of_order_;
  }

 private:
  void ReadAcks() ABSL_LOCKS_EXCLUDED(mu_) {
    v1::PublishStreamResponse response;
    uint64_t last_sequence = 0;
    uint64_t out_of_order = 0;
    uint64_t acked = 0;
    while (stream_->Read(&response)) {
      const int64_t now = MonotonicNanos();
      for (int i = 0; i < response.acks_size(); ++i, ++acked) {
        if (acked < sent_ns_.size()) {
          latencies_.push_back(now -
                               sent_ns_[acked].load(std::memory_order_acquire));
        }
      }
      for (const v1::PublishResponse& ack : response.acks()) {
        if (last_sequence != 0 && ack.sequence() != last_sequence + 1) {
          ++out_of_order;
        }
        last_sequence = ack.sequence();
      }
      absl::MutexLock lock(&mu_);
      out_of_order_ = out_of_order;
      acked_.fetch_add(response.acks_size(), std::memory_order_release);
    }
    absl::MutexLock lock(&mu_);
    reads_done_ = true;
  }
  static std::vector<int64_t> Reserved(size_t capacity) {
    std::vector<int64_t> vector;
    vector.reserve(capacity);
    return vector;
  }
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return reads_done_ ||
           sent_ - acked_.load(std::memory_order_relaxed) < window_;
  }
  void WriteRequest() ABSL_LOCKS_EXCLUDED(mu_) {
    if (!stream_->Write(request_)) {
      absl::MutexLock lock(&mu_);
      ++write_failures_;
    }
    request_.Clear();
  }

  std::unique_ptr<v1::EventBusService::Stub> stub_;
  const uint64_t window_;
  const uint64_t flush_every_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::PublishStreamRequest,
                                           v1::PublishStreamResponse>>
      stream_;
  // Written by the publishing thread only: the event being built, the
  // request (batch) being filled.
  v1::Event event_;
  v1::PublishStreamRequest request_;
  uint64_t sent_ = 0;
  bool finished_ = false;
  // When each of the first events was published (publishing thread), and its
  // ack latency (the reader thread, until Flush() joined it).
  std::vector<std::atomic<int64_t>> sent_ns_;
  std::vector<int64_t> latencies_;
  std::atomic<uint64_t> acked_{0};
  mutable absl::Mutex mu_;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t write_failures_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t out_of_order_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread reader_;
};

// Waits until `done` holds, nothing changed for `idle_ms` (`progress`
// returns a figure that grows while anything arrives), or `max_ms` passed.
// Returns whether `done` held.
template <typename Done, typename Progress>
bool WaitFor(Done done, Progress progress, int idle_ms, int max_ms) {
  const int64_t start = MonotonicNanos();
  int64_t last_change = start;
  uint64_t last = progress();
  while (!done()) {
    const int64_t now = MonotonicNanos();
    const uint64_t current = progress();
    if (current != last) {
      last = current;
      last_change = now;
    } else if (now - last_change > int64_t{idle_ms} * 1'000'000) {
      return false;
    }
    if (now - start > int64_t{max_ms} * 1'000'000) return false;
    usleep(1000);
  }
  return true;
}

// Nearest-rank percentile of sorted nanoseconds, in microseconds.
inline double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return NAN;
  size_t rank = static_cast<size_t>(std::ceil(p * sorted.size()));
  rank = rank == 0 ? 0 : rank - 1;
  return sorted[std::min(rank, sorted.size() - 1)] / 1000.0;
}

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_GRPC_CLIENTS_H_

#include "bench/grpc_workloads.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_event.h"
#include "bench/broker_process.h"
#include "bench/json_line.h"
#include "bench/proc_stats.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::bench {
namespace {

constexpr char kSubscribeMethod[] = "/eventbus.v1.EventBusService/Subscribe";

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
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, int index,
                                          bool bdp_probe) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("eventbus.bench.channel", index);
  if (!bdp_probe) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// One Subscribe stream and what it received. Its operations complete on one
// CompletionThread, one at a time, so the counters have a single writer;
// the main thread reads the atomics (acquire) while it waits, and the rest
// once the stream is finished.
class StreamSubscriber final : public ResponseVisitor {
 public:
  // `stalled`: reads nothing until StartReading(). `latency_capacity`:
  // latency samples kept (the first ones).
  StreamSubscriber(grpc::GenericStub* stub, grpc::CompletionQueue* queue,
                   const std::string& name, bool stalled,
                   size_t latency_capacity,
                   v1::Overflow overflow = v1::OVERFLOW_DROP_OLDEST)
      : stub_(stub), queue_(queue), reading_(!stalled) {
    v1::SubscribeRequest request;
    request.set_name(name);
    request.set_overflow(overflow);
    const std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    request_ = grpc::ByteBuffer(&slice, 1);
    latencies_.reserve(latency_capacity);
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

  // The daemon sent the headers: the subscriber is registered.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // The stream ended before Cancel(): closed by the daemon or broken.
  bool ended_early() const { return ended_early_; }
  const grpc::Status& status() const { return status_; }

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

 private:
  void OnStarted(bool ok) {
    if (!ok) return Finish();
    call_->WriteLast(request_, grpc::WriteOptions(), &write_tag_);
    call_->ReadInitialMetadata(&metadata_tag_);
  }

  void OnWritten(bool) {}  // a failed write fails the reads too

  void OnMetadata(bool ok) {
    if (!ok) return Finish();
    ready_.store(true, std::memory_order_release);
    if (reading_) call_->Read(&buffer_, &read_tag_);
  }

  void OnRead(bool ok) {
    if (!ok) return Finish();
    now_ns_ = MonotonicNanos();
    ++responses_;
    grpc::Slice slice;
    bool scanned;
    if (buffer_.TrySingleSlice(&slice).ok()) {
      scanned = ScanSubscribeResponse(slice.begin(), slice.size(), this);
    } else {
      std::vector<grpc::Slice> slices;
      (void)buffer_.Dump(&slices);
      scratch_.clear();
      for (const grpc::Slice& part : slices) {
        scratch_.append(reinterpret_cast<const char*>(part.begin()),
                        part.size());
      }
      scanned = ScanSubscribeResponse(
          reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size(),
          this);
    }
    buffer_.Clear();
    if (!scanned) malformed_ = true;
    missed_.store(missed_local_, std::memory_order_relaxed);
    last_receive_ns_.store(now_ns_, std::memory_order_relaxed);
    received_.store(received_local_, std::memory_order_release);
    call_->Read(&buffer_, &read_tag_);
  }

  void Finish() {
    if (finish_started_.exchange(true)) return;
    call_->Finish(&status_, &finish_tag_);
  }

  void OnFinished(bool) {
    ended_early_ = !context_cancelled();
    finished_.store(true, std::memory_order_release);
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
  std::atomic<bool> ready_{false};
  std::atomic<bool> finish_started_{false};
  std::atomic<bool> finished_{false};
  bool ended_early_ = false;

  OpTag<StreamSubscriber, &StreamSubscriber::OnStarted> start_tag_{this};
  OpTag<StreamSubscriber, &StreamSubscriber::OnWritten> write_tag_{this};
  OpTag<StreamSubscriber, &StreamSubscriber::OnMetadata> metadata_tag_{this};
  OpTag<StreamSubscriber, &StreamSubscriber::OnRead> read_tag_{this};
  OpTag<StreamSubscriber, &StreamSubscriber::OnFinished> finish_tag_{this};

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
  StreamPublisher(std::shared_ptr<grpc::Channel> channel, int window,
                  uint64_t flush_every)
      : stub_(v1::EventBusService::NewStub(std::move(channel))),
        window_(static_cast<uint64_t>(std::max(window, 1))),
        flush_every_(std::max<uint64_t>(flush_every, 1)),
        stream_(stub_->PublishStream(&context_)),
        reader_([this] { ReadAcks(); }) {}
  ~StreamPublisher() override { Flush(); }

  v1::Event* event() override { return &event_; }

  void Publish() override ABSL_LOCKS_EXCLUDED(mu_) {
    if (sent_ - acked_.load(std::memory_order_acquire) >= window_) {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &StreamPublisher::HasRoom));
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
    while (stream_->Read(&response)) {
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
double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return NAN;
  size_t rank = static_cast<size_t>(std::ceil(p * sorted.size()));
  rank = rank == 0 ? 0 : rank - 1;
  return sorted[std::min(rank, sorted.size() - 1)] / 1000.0;
}

std::string ErrorLine(const GrpcWorkloadOptions& options,
                      const std::string& error) {
  std::fprintf(stderr, "[eventbus-bench] %s S=%d: %s\n",
               options.workload.c_str(), options.subscribers, error.c_str());
  return JsonLine()
      .Str("system", "eventbus")
      .Str("workload", options.workload)
      .Int("subscribers", options.subscribers)
      .Str("error", error)
      .Done();
}

// Everything the clients of one case own; destroyed in order: streams
// cancelled and finished before the queues shut down.
struct Clients {
  std::vector<std::unique_ptr<CompletionThread>> threads;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<std::unique_ptr<StreamSubscriber>> subscribers;
  std::unique_ptr<StreamSubscriber> stalled;

  ~Clients() {
    for (auto& subscriber : subscribers) subscriber->Cancel();
    if (stalled) stalled->Cancel();
    const bool all_finished = WaitFor(
        [&] {
          for (auto& subscriber : subscribers) {
            if (!subscriber->finished()) return false;
          }
          return !stalled || stalled->finished();
        },
        [] { return 0; }, 10'000, 10'000);
    if (!all_finished) {
      // gRPC still refers to them: leak rather than free under it.
      std::fprintf(stderr, "[eventbus-bench] streams did not finish\n");
      for (auto& subscriber : subscribers) subscriber.release();
      stalled.release();
    }
    for (auto& thread : threads) thread->Shutdown();
    threads.clear();
  }
};

}  // namespace

bool ParseOverflowFlag(const std::string& text, v1::Overflow* overflow) {
  if (text == "drop-oldest") {
    *overflow = v1::OVERFLOW_DROP_OLDEST;
  } else if (text == "block") {
    *overflow = v1::OVERFLOW_BLOCK;
  } else if (text == "disconnect") {
    *overflow = v1::OVERFLOW_DISCONNECT;
  } else {
    return false;
  }
  return true;
}

std::string OverflowFlag(v1::Overflow overflow) {
  switch (overflow) {
    case v1::OVERFLOW_BLOCK:
      return "block";
    case v1::OVERFLOW_DISCONNECT:
      return "disconnect";
    default:
      return "drop-oldest";
  }
}

std::string RunGrpcWorkload(const GrpcWorkloadOptions& options) {
  const std::string& workload = options.workload;
  const bool paced = workload == "W2" || workload == "W3";
  const bool stalled_reader = workload == "W3";
  const int subscribers = options.subscribers;
  const uint64_t events =
      paced
          ? static_cast<uint64_t>(std::llround(options.rate * options.seconds))
          : options.events;
  const int connections = options.connections > 0
                              ? std::min(options.connections, subscribers)
                              : subscribers;

  absl::StatusOr<std::unique_ptr<BrokerProcess>> broker_or =
      BrokerProcess::Start({
          "--address=127.0.0.1:0",
          absl::StrCat("--capacity=", options.capacity),
          absl::StrCat("--max-subscribers=", std::max(10000, subscribers + 16)),
          // Every bench client is one peer (127.0.0.1): lift the per-peer
          // quotas, as the peers run without any.
          absl::StrCat("--max-subscribers-per-peer=",
                       std::max(10000, subscribers + 16)),
          "--publish-rate-per-peer=0",
          // "info": the start-up line names the port; nothing is logged per
          // event below "debug".
          "--log-level=info",
      });
  if (!broker_or.ok()) return ErrorLine(options, broker_or.status().ToString());
  BrokerProcess& broker = **broker_or;
  const pid_t pid = broker.pid();
  std::fprintf(stderr, "[eventbus-bench] %s S=%d: eventbusd pid %d on %s\n",
               workload.c_str(), subscribers, pid, broker.address().c_str());

  const ProcessMemory memory_before = ReadProcessMemory(pid);
  const double broker_cpu_before = ReadProcessCpuSeconds(pid);
  const double self_cpu_before = SelfCpuSeconds();
  const HostCpu host_before = ReadHostCpu();

  Clients clients;
  for (int i = 0; i < options.client_threads; ++i) {
    clients.threads.push_back(std::make_unique<CompletionThread>());
  }
  for (int i = 0; i < connections + (stalled_reader ? 1 : 0); ++i) {
    clients.channels.push_back(
        NewChannel(broker.address(), i, options.bdp_probe));
    clients.stubs.push_back(
        std::make_unique<grpc::GenericStub>(clients.channels.back()));
  }
  const size_t latency_capacity = paced ? events + 1024 : 0;
  for (int i = 0; i < subscribers; ++i) {
    // W4: subscriber i on connection i % connections (100 streams each).
    clients.subscribers.push_back(std::make_unique<StreamSubscriber>(
        clients.stubs[i % connections].get(),
        clients.threads[i % clients.threads.size()]->queue(),
        absl::StrCat("bench-", i), /*stalled=*/false, latency_capacity,
        options.overflow));
  }
  if (stalled_reader) {
    clients.stalled = std::make_unique<StreamSubscriber>(
        clients.stubs.back().get(), clients.threads[0]->queue(),
        "bench-stalled", /*stalled=*/true, 0);
  }
  for (auto& subscriber : clients.subscribers) subscriber->Start();
  if (clients.stalled) clients.stalled->Start();
  auto ready_count = [&] {
    uint64_t ready = 0;
    for (auto& subscriber : clients.subscribers) ready += subscriber->ready();
    return ready + (clients.stalled && clients.stalled->ready());
  };
  const uint64_t streams = subscribers + (stalled_reader ? 1 : 0);
  if (!WaitFor([&] { return ready_count() == streams; }, ready_count, 30'000,
               60'000)) {
    return ErrorLine(options, absl::StrCat("only ", ready_count(), " of ",
                                           streams, " streams started"));
  }
  usleep(200'000);  // let the daemon settle before sampling its RSS
  const ProcessMemory memory_subscribed = ReadProcessMemory(pid);

  auto publisher_channel =
      NewChannel(broker.address(), connections + 1, options.bdp_probe);
  if (!publisher_channel->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(10))) {
    return ErrorLine(options, "the publisher cannot connect");
  }
  // Paced runs keep a large window: the pacing, not the acknowledgements,
  // sets the rate.
  const bool stream_rpc = options.publish_rpc != "unary";
  const int window = paced ? 1024 : options.publish_window;
  std::unique_ptr<EventPublisher> publisher;
  if (stream_rpc) {
    publisher = std::make_unique<StreamPublisher>(
        publisher_channel, window, paced ? 1 : options.flush_every);
  } else {
    publisher = std::make_unique<Publisher>(publisher_channel, window);
  }
  *publisher->event() = BenchEvent();
  const size_t event_bytes = BenchEventWireSize(events);

  std::fprintf(stderr, "[eventbus-bench] %s S=%d: publishing %llu events\n",
               workload.c_str(), subscribers, (unsigned long long)events);
  int64_t start_ns, publish_end_ns;
  int64_t max_publish_lag_ns = 0;
  uint64_t late_1ms = 0;
  if (!paced) {
    start_ns = MonotonicNanos();
    for (uint64_t i = 0; i < events; ++i) {
      StampEvent(MonotonicNanos(), publisher->event());
      publisher->Publish();
    }
    publisher->Flush();
    publish_end_ns = MonotonicNanos();
  } else {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    const int64_t period_ns = static_cast<int64_t>(1e9 / options.rate);
    start_ns = MonotonicNanos() + 1'000'000;
    for (uint64_t i = 0; i < events; ++i) {
      const int64_t target = start_ns + static_cast<int64_t>(i) * period_ns;
      if (MonotonicNanos() < target) {
        const timespec at = {static_cast<time_t>(target / 1'000'000'000),
                             static_cast<long>(target % 1'000'000'000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) ==
               EINTR) {
        }
      }
      const int64_t stamp = MonotonicNanos();
      max_publish_lag_ns = std::max(max_publish_lag_ns, stamp - target);
      if (stamp - target > 1'000'000) ++late_1ms;
      StampEvent(stamp, publisher->event());
      publisher->Publish();
    }
    publisher->Flush();
    publish_end_ns = MonotonicNanos();
  }

  auto accounted = [&] {
    uint64_t total = 0;
    for (auto& subscriber : clients.subscribers) {
      total += subscriber->received() + subscriber->missed();
    }
    return total;
  };
  const bool complete = WaitFor(
      [&] {
        for (auto& subscriber : clients.subscribers) {
          if (subscriber->received() + subscriber->missed() < events) {
            return false;
          }
        }
        return true;
      },
      accounted, options.idle_ms, 180'000);
  const double broker_cpu_s = ReadProcessCpuSeconds(pid) - broker_cpu_before;
  const double client_cpu_s = SelfCpuSeconds() - self_cpu_before;
  const HostCpu host_after = ReadHostCpu();
  const ProcessMemory memory_after = ReadProcessMemory(pid);

  uint64_t delivered = 0, drops = 0, drops_max = 0, lagged_missed = 0;
  uint64_t lag_notices = 0, responses = 0, gaps = 0, reordered = 0;
  int subscribers_short = 0, disconnected = 0, malformed = 0;
  int64_t last_receive_ns = 0;
  std::vector<int64_t> latencies;
  for (auto& subscriber : clients.subscribers) {
    const uint64_t received = subscriber->received();
    delivered += received;
    const uint64_t short_by = received >= events ? 0 : events - received;
    drops += short_by;
    drops_max = std::max(drops_max, short_by);
    if (short_by > 0) ++subscribers_short;
    lagged_missed += subscriber->missed();
    lag_notices += subscriber->lag_notices();
    responses += subscriber->responses();
    gaps += subscriber->gaps();
    reordered += subscriber->reordered();
    malformed += subscriber->malformed();
    if (subscriber->finished()) ++disconnected;
    last_receive_ns = std::max(last_receive_ns, subscriber->last_receive_ns());
    latencies.insert(latencies.end(), subscriber->latencies().begin(),
                     subscriber->latencies().end());
  }
  std::sort(latencies.begin(), latencies.end());

  // W3: now let the stalled subscriber read what the daemon kept for it.
  uint64_t stalled_received = 0, stalled_missed = 0, stalled_notices = 0;
  uint64_t stalled_gaps = 0;
  bool stalled_disconnected = false;
  std::string stalled_status;
  if (clients.stalled) {
    StreamSubscriber& stalled = *clients.stalled;
    stalled_disconnected = stalled.finished();
    if (!stalled_disconnected) {
      stalled.StartReading();
      WaitFor(
          [&] {
            return stalled.finished() ||
                   stalled.received() + stalled.missed() >= events;
          },
          [&] { return stalled.received() + stalled.missed(); }, 2000, 15'000);
    }
    stalled_disconnected = stalled.finished();
    stalled_received = stalled.received();
    stalled_missed = stalled.missed();
    if (stalled_disconnected) {
      stalled_status =
          absl::StrCat(" (status ", stalled.status().error_code(), ": ",
                       stalled.status().error_message(), ")");
    } else {
      // Only read once the stream is quiet: counters of a live stream belong
      // to its completion thread.
      stalled_notices = stalled.lag_notices();
      stalled_gaps = stalled.gaps();
    }
  }
  const int lag_warnings = broker.CountLogLines("is lagging");

  const uint64_t acks_out_of_order = publisher->acks_out_of_order();
  const uint64_t publish_errors = publisher->errors();
  const std::string publish_error = publisher->first_error();
  publisher.reset();

  const double publish_s = (publish_end_ns - start_ns) / 1e9;
  const double delivered_s =
      last_receive_ns > start_ns ? (last_receive_ns - start_ns) / 1e9 : NAN;
  const int reported_subscribers = subscribers + (stalled_reader ? 1 : 0);

  JsonLine json;
  json.Str("system", "eventbus")
      .Str("workload", workload)
      .Str("overflow", OverflowFlag(options.overflow))
      .Int("subscribers", reported_subscribers)
      .Int("events", static_cast<int64_t>(events))
      .Num("publish_eps", events / publish_s, 0)
      .Num("delivered_eps", delivered / delivered_s, 0)
      .Int("drops", static_cast<int64_t>(drops));
  if (paced) {
    json.Num("p50_us", Percentile(latencies, 0.50))
        .Num("p99_us", Percentile(latencies, 0.99))
        .Num("p999_us", Percentile(latencies, 0.999))
        .Num("max_us", latencies.empty() ? NAN : latencies.back() / 1000.0);
  }
  json.Num("broker_rss_mb", memory_after.hwm_kb / 1024.0, 1)
      .Num("broker_cpu_s", broker_cpu_s, 2)
      .Int("drops_max_per_sub", static_cast<int64_t>(drops_max))
      .Int("subs_disconnected", disconnected)
      .Num("client_cpu_s", client_cpu_s, 2)
      .Num("host_other_cpu_s",
           (host_after.busy - host_before.busy) - broker_cpu_s - client_cpu_s,
           2);
  if (paced) {
    json.Num("pub_max_lag_us", max_publish_lag_ns / 1000.0, 1)
        .Int("pub_late_1ms", static_cast<int64_t>(late_1ms));
  }
  const double per_sub_kb =
      static_cast<double>(memory_subscribed.rss_kb - memory_before.rss_kb) /
      subscribers;
  if (workload == "W4") {
    json.Num("complete_ms", complete ? delivered_s * 1000 : NAN, 1)
        .Num("broker_rss_per_sub_kb", per_sub_kb, 2);
  }
  std::string stalled_outcome;
  if (stalled_reader) {
    stalled_outcome =
        stalled_disconnected ? "disconnected"
        : stalled_received + stalled_missed == events && stalled_missed > 0
            ? "told of loss"
        : stalled_received == events ? "buffered-all"
                                     : "partial";
    json.Int("stalled_received", static_cast<int64_t>(stalled_received))
        .Int("stalled_missed", static_cast<int64_t>(stalled_missed))
        .Int("stalled_lagged_notices", static_cast<int64_t>(stalled_notices))
        .Str("stalled_outcome", stalled_outcome);
  }
  json.Int("lagged_missed", static_cast<int64_t>(lagged_missed))
      .Int("unaccounted_gaps", static_cast<int64_t>(gaps))
      .Int("publish_reordered", static_cast<int64_t>(reordered))
      .Str("publish_rpc", stream_rpc ? "PublishStream" : "Publish")
      .Int("capacity", static_cast<int64_t>(options.capacity))
      .Int("event_bytes", static_cast<int64_t>(event_bytes));

  const std::string publish_path =
      stream_rpc
          ? absl::StrFormat(
                "one PublishStream call, up to %d events unacknowledged, "
                "writes flushed every %d events%s; acks %s",
                window, paced ? 1 : options.flush_every,
                paced ? "" : " or when the window fills",
                acks_out_of_order == 0
                    ? std::string("in order")
                    : absl::StrCat(acks_out_of_order, " OUT OF ORDER"))
          : absl::StrFormat(
                "unary Publish, asynchronous, up to %d calls in flight on one "
                "connection%s",
                window,
                window > 1 ? " (the bus orders events by arrival)" : "");
  std::string note = absl::StrFormat(
      "eventbusd (this tree), bus.capacity=%d. publish: %s. subs: Subscribe "
      "streams via the generic ByteBuffer API, responses scanned in place (no "
      "message parsing), driven by %d completion-queue threads; "
      "grpc.http2.bdp_probe=%d. conns=%d%s. event %d bytes serialized.",
      options.capacity, publish_path, options.client_threads,
      options.bdp_probe ? 1 : 0, connections,
      stalled_reader ? " +1 stalled" : "", event_bytes);
  absl::StrAppendFormat(
      &note,
      " publish took %.3fs (%s); last delivery at %.3fs; completion: %s. "
      "%.1f events per response on average.",
      publish_s,
      publish_errors == 0
          ? std::string("ok")
          : absl::StrCat(publish_errors, " failed, first: ", publish_error),
      delivered_s,
      complete ? "all subscribers got or were told of every event"
               : "idle timeout (some events never arrived)",
      responses > 0 ? static_cast<double>(delivered) / responses : 0.0);
  if (drops > 0) {
    absl::StrAppendFormat(
        &note,
        " drops: %d total, %d/%d subs short, max %d on one sub; Lagged "
        "notices (%d) reported %d of them as lost, exact ranges.",
        drops, subscribers_short, subscribers, drops_max, lag_notices,
        lagged_missed);
  }
  if (gaps > 0 || malformed > 0) {
    absl::StrAppendFormat(&note,
                          " ERROR: %d sequence gaps no Lagged notice "
                          "covered, %d malformed responses.",
                          gaps, malformed);
  }
  if (reordered > 0) {
    absl::StrAppendFormat(&note,
                          " %d deliveries (over all subs) came in a different "
                          "order than published%s.",
                          reordered,
                          stream_rpc ? "" : " (concurrent unary calls)");
  }
  if (paced) {
    absl::StrAppendFormat(&note,
                          " pacing: %.0f/s target, max publisher lag %.0fus, "
                          "%d events >1ms late.",
                          options.rate, max_publish_lag_ns / 1000.0, late_1ms);
  }
  if (stalled_reader) {
    absl::StrAppendFormat(
        &note,
        " latency/drops are for the %d healthy subs. stalled sub (own "
        "connection, no read until the run ended): %s%s; afterwards it read "
        "%d events and Lagged notices (%d) covering %d, together %d of %d%s; "
        "the daemon logged %d lag warnings.",
        subscribers, stalled_outcome,
        stalled_disconnected ? " (stream ended)" + stalled_status
                             : " (stream still open)",
        stalled_received, stalled_notices, stalled_missed,
        stalled_received + stalled_missed, events,
        stalled_gaps > 0 ? absl::StrCat(", ", stalled_gaps, " UNCOVERED GAPS")
                         : std::string(),
        lag_warnings);
  }
  if (workload == "W4") {
    absl::StrAppendFormat(&note,
                          " broker RSS %.1fMB before subs, %.1fMB after %d "
                          "subs -> %.2f KB/sub.",
                          memory_before.rss_kb / 1024.0,
                          memory_subscribed.rss_kb / 1024.0, subscribers,
                          per_sub_kb);
  }
  json.Str("note", note);
  return json.Done();
}

}  // namespace eventbus::bench

#include "tests/fault/stream_publisher.h"

#include "absl/time/clock.h"
#include "tests/fault/scenario.h"

namespace eventbus::fault {
namespace {

// Writes are coalesced: every kFlushEvery-th write is sent at once, the
// others may wait for it (gRPC's buffer hint).
constexpr uint64_t kFlushEvery = 32;

}  // namespace

StreamPublisher::StreamPublisher(std::shared_ptr<grpc::Channel> channel,
                                 StreamPublisherOptions options)
    : options_(options),
      stub_(v1::EventBusService::NewStub(std::move(channel))) {
  stream_ = stub_->PublishStream(&context_);
  writer_ = std::thread([this] { Write(); });
  reader_ = std::thread([this] { ReadAcks(); });
}

StreamPublisher::~StreamPublisher() {
  if (!joined_) {
    Stop();
    context_.TryCancel();
    Join();
  }
}

void StreamPublisher::Stop() {
  MutexLock lock(&mu_);
  stopping_ = true;
  changed_.SignalAll();
}

void StreamPublisher::Write() {
  v1::PublishStreamRequest request;
  *request.mutable_event() = SampleEvent();
  const absl::Time start = absl::Now();
  uint64_t sent = 0;
  while (options_.count == 0 || sent < options_.count) {
    {
      MutexLock lock(&mu_);
      while (!stopping_ && !reader_done_ &&
             sent - acked_.load() >= options_.window) {
        changed_.WaitUntil(absl::InfiniteFuture());
      }
      if (stopping_ || reader_done_) break;
    }
    if (options_.rate > 0) {
      // Pacing: event `sent` is due at start + sent / rate.
      const absl::Time due = start + absl::Seconds(sent / options_.rate);
      const absl::Time now = absl::Now();
      if (due > now) absl::SleepFor(due - now);
    }
    const bool last = options_.count != 0 && sent + 1 == options_.count;
    grpc::WriteOptions write_options;
    if (!last && (sent + 1) % kFlushEvery != 0 && options_.rate == 0) {
      write_options.set_buffer_hint();
    }
    if (!stream_->Write(request, write_options)) break;
    ++sent;
  }
  stream_->WritesDone();
  MutexLock lock(&mu_);
  result_.sent = sent;
}

void StreamPublisher::ReadAcks() {
  v1::PublishStreamResponse response;
  uint64_t previous = 0;
  while (stream_->Read(&response)) {
    MutexLock lock(&mu_);
    for (const v1::PublishResponse& ack : response.acks()) {
      if (ack.sequence() <= previous) ++result_.out_of_order_acks;
      previous = ack.sequence();
      if (options_.record_sequences) result_.sequences.push_back(previous);
      if (options_.record_ids) result_.ids.push_back(ack.id());
    }
    result_.max_sequence = std::max(result_.max_sequence, previous);
    result_.acked += response.acks_size();
    acked_.store(result_.acked);
    changed_.SignalAll();
  }
  MutexLock lock(&mu_);
  reader_done_ = true;
  changed_.SignalAll();
}

bool StreamPublisher::AwaitAcked(uint64_t count, absl::Time deadline) {
  MutexLock lock(&mu_);
  while (acked_.load() < count && !reader_done_) {
    if (!changed_.WaitUntil(deadline)) break;
  }
  return acked_.load() >= count;
}

StreamPublisherResult StreamPublisher::Join() {
  joined_ = true;
  reader_.join();
  // The reader is done: the stream broke or every ack arrived. A writer
  // waiting for window room sees reader_done_.
  writer_.join();
  grpc::Status status = stream_->Finish();
  MutexLock lock(&mu_);
  result_.status = status;
  return std::move(result_);
}

}  // namespace eventbus::fault

// PublishStreamReactor: one PublishStream call (bidirectional stream).
//
// Reads one request at a time (one event, or a batch of them), publishes
// each event on the bus in order and queues its acknowledgement;
// acknowledgements are written in batches, one write in flight, while the next
// read is already pending, so a publisher with a window of events in flight
// pays no round trip per event. Reading pauses while kMaxPendingAcks
// acknowledgements wait for the client, and while a BLOCK subscriber holds
// an event back (Bus::TryPublish): the held event is retried when the bus
// calls OnMayPublish or at the attempt's retry_by (an alarm), each posted
// to the DeliveryQueue, so no thread waits and the client's window fills.
// The first rejected event, or the first request that does not parse, ends
// the call with its status once the acknowledgements before it are written.
// Requests and responses are raw bytes, parsed and encoded here
// (raw_message.h).
//
// Ownership: gRPC holds the raw pointer Start returns; the reactor holds a
// reference to itself (self_) until OnDone; the bus, the delivery queue and
// the alarm hold weak references.
//
// Threads: the events of a request are published by one thread at a time:
// the one in OnReadDone, or, while an event is held, the one that takes the
// hold (Run). Locking: mu_ guards the state shared with the write and cancel
// callbacks; it is never held while calling into gRPC or the bus.
#ifndef EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_REACTOR_H_
#define EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_REACTOR_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/bus/bus.h"
#include "server/grpc/delivery_queue.h"
#include "server/grpc/refusal_log.h"
#include "server/security/admission.h"

namespace eventbus {

class PublishStreamReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
      public PublishWaiter,
      public DeliveryQueue::Task,
      public std::enable_shared_from_this<PublishStreamReactor> {
 public:
  // Acknowledgements waiting for the client before reading pauses.
  static constexpr int kMaxPendingAcks = 4096;

  // Each event passes `admission.AdmitEvent` (the peer's publish rate, the
  // attribute limits) before the bus sees it; the caller has already
  // checked the publish right. A refusal is logged to `refusals`; held
  // events are retried on `delivery`. Both must outlive the stream.
  static PublishStreamReactor* Start(grpc::CallbackServerContext* context,
                                     Bus bus, Admission admission,
                                     RefusalLog* refusals,
                                     DeliveryQueue* delivery);

  // Use Start; public for std::make_shared.
  PublishStreamReactor(grpc::CallbackServerContext* context, Bus bus,
                       Admission admission, RefusalLog* refusals,
                       DeliveryQueue* delivery);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override ABSL_LOCKS_EXCLUDED(mu_);

  void OnMayPublish() override { delivery_->Post(weak_from_this()); }
  // On a delivery thread: retries the held event, if one is.
  void Run() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Publishes request_'s events from next_event_ on; then reads the next
  // request, or holds, or ends the reads.
  void PublishEvents() ABSL_LOCKS_EXCLUDED(mu_);
  // Writes pending acknowledgements, resumes a paused read, or finishes.
  void Advance() ABSL_LOCKS_EXCLUDED(mu_);

  const Bus bus_;
  const Admission admission_;
  RefusalLog* const refusals_;
  DeliveryQueue* const delivery_;
  const std::string peer_;
  // The peer as PeerLimits counts it (host, without the port).
  const std::string limited_peer_;
  // Owned by the one read in flight.
  grpc::ByteBuffer raw_request_;
  // Owned by the thread publishing (see Threads above).
  // Requests read so far, the one being handled included.
  uint64_t requests_read_ = 0;
  v1::PublishStreamRequest request_;
  absl::Status request_error_;
  int next_event_ = 0;
  // The event of request_ at next_event_, admitted and prepared, when its
  // publish was held back.
  std::optional<PreparedEvent> prepared_;
  // When the bus ends the holder in the way of prepared_.
  absl::Time held_until_ = absl::InfinitePast();
  // Owned by the one write in flight.
  grpc::ByteBuffer response_;

  Mutex mu_;
  v1::PublishStreamResponse pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  // An event is held: whoever sets this hands the publishing over to Run.
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  // A wake-up came while no event was held (it raced with the attempt).
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  // The client half-closed, a read failed, an event was rejected, or the
  // call was cancelled.
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  // Fires at the held attempt's retry_by.
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<PublishStreamReactor> self_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_REACTOR_H_

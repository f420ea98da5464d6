// PublishStreamReactor: one PublishStream call (bidirectional stream).
//
// Reads one request at a time (one event, or a batch of them), publishes
// each event on the bus in order and queues its acknowledgement;
// acknowledgements are written in batches, one write in flight, while the next
// read is already pending, so a publisher with a window of events in flight
// pays no round trip per event. Reading pauses while kMaxPendingAcks
// acknowledgements wait for the client. The first rejected event, or the first
// request that does not parse, ends the call with its status once the
// acknowledgements before it are written. Requests and responses are raw
// bytes, parsed and encoded here (raw_message.h).
//
// Owned by gRPC: created by EventBusService::PublishStream, deleted in
// OnDone. Locking: mu_ guards the state shared by the read and write
// callbacks; it is never held while calling into gRPC.
#ifndef EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_REACTOR_H_
#define EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/bus/bus.h"
#include "server/grpc/refusal_log.h"
#include "server/security/admission.h"

namespace eventbus {

class PublishStreamReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // Acknowledgements waiting for the client before reading pauses.
  static constexpr int kMaxPendingAcks = 4096;

  // Each event passes `admission.AdmitEvent` (the peer's publish rate, the
  // attribute limits) before the bus sees it; the caller has already
  // checked the publish right. A refusal is logged to `refusals`, which
  // must outlive the stream.
  PublishStreamReactor(grpc::CallbackServerContext* context, Bus bus,
                       Admission admission, RefusalLog* refusals);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  // Writes pending acknowledgements, resumes a paused read, or finishes.
  void Advance() ABSL_LOCKS_EXCLUDED(mu_);

  const Bus bus_;
  const Admission admission_;
  RefusalLog* const refusals_;
  const std::string peer_;
  // The peer as PeerLimits counts it (host, without the port).
  const std::string limited_peer_;
  // Owned by the one read in flight.
  grpc::ByteBuffer request_;
  // Requests read so far, the one being handled included.
  uint64_t requests_read_ = 0;
  // Owned by the one write in flight.
  grpc::ByteBuffer response_;

  Mutex mu_;
  v1::PublishStreamResponse pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  // The client half-closed, a read failed, or an event was rejected.
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_REACTOR_H_

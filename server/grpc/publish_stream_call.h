// PublishStreamCall: one PublishStream call (bidirectional stream) on gRPC's
// asynchronous API, the path every event takes on its way in.
//
// Each call lives on one IoThreads queue, like a SubscribeCall: its
// operations (the call arriving, the headers sent, each read and write, a
// wake-up, a retry timer, the finish, the call's end) complete there, and
// that queue's thread does everything the call does. It reads one request
// at a time (one event, or a batch of them), publishes each event on the
// bus in order and queues its acknowledgement; acknowledgements are written
// in batches, one write in flight, while the next read is already pending,
// so a publisher with a window of events in flight pays no round trip per
// event.
//
// Reading pauses while kMaxPendingAcks acknowledgements wait for the
// client, and while a BLOCK subscriber holds an event back
// (Bus::TryPublish): the client's window then fills and it slows down. The
// held event is retried when the bus calls OnMayPublish (an alarm set to
// now on the call's queue) or at the attempt's retry_by (a timer on the
// same queue), so no thread waits. The first rejected event, or the first
// request that does not parse, ends the call with its status once the
// acknowledgements before it are written; a call that ends while an event
// is held leaves it unpublished.
//
// With storage.fsync always an acknowledgement is written only once the
// log has synced its event (Bus::AwaitStored wakes the call as a held
// event does); the events after it are read and published meanwhile, so
// one sync covers a whole window. An event the log failed to store ends
// the call with UNAVAILABLE after the acknowledgements before it.
//
// Ownership: the call holds a reference to itself (self_) while any of its
// operations is pending or it has not ended; the bus holds a weak one.
//
// Threads: everything but OnMayPublish runs on the call's queue thread and
// needs no lock; mu_ guards what OnMayPublish shares with it (the wake-up
// alarm and the count of pending operations).
#ifndef EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_CALL_H_
#define EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_CALL_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/bus/bus.h"
#include "server/grpc/io_threads.h"
#include "server/grpc/refusal_log.h"
#include "server/grpc/service_metrics.h"
#include "server/security/admission.h"

namespace eventbus {

class PublishStreamCall final
    : public PublishWaiter,
      public std::enable_shared_from_this<PublishStreamCall> {
 public:
  // Acknowledgements waiting for the client before reading pauses.
  static constexpr int kMaxPendingAcks = 4096;

  using Stream =
      grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>;
  // Asks gRPC for the next PublishStream call (the service's
  // RequestPublishStream).
  using Requester = std::function<void(grpc::ServerContext*, Stream*,
                                       grpc::ServerCompletionQueue*, void*)>;

  // What every call of a service shares; all of it outlives the calls.
  struct Shared {
    Requester request;
    const Bus* bus = nullptr;
    // Checks the publish right, then admits each event (the peer's publish
    // rate, the attribute limits) before the bus sees it.
    const Admission* admission = nullptr;
    RefusalLog* refusals = nullptr;
    ServiceMetrics* metrics = nullptr;
    std::string instance_id;
    IoThreads* io = nullptr;
  };

  // Waits for a PublishStream call on queue `queue`; each call that arrives
  // waits for the next one.
  static void Await(const Shared* shared, int queue);

  // Use Await; public for std::make_shared.
  PublishStreamCall(const Shared* shared, int queue);

  // From a reader's thread: wakes the call on its own queue.
  void OnMayPublish() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void OnAccepted(bool ok);
  void OnReadDone(bool ok);
  void OnWriteDone(bool ok);
  void OnWake(bool ok);
  void OnRetryTimer(bool ok);
  void OnFinished(bool ok);
  void OnDone(bool ok);

  void Begin();
  // Parses the request just read and publishes its events.
  void HandleRequest();
  // Publishes request_'s events from next_event_ on, until one is held or
  // refused or all are published; then reads the next request unless
  // reading pauses or ends.
  void PublishEvents();
  // Sets the retry timer for held_until_ unless one fires by then.
  void ArmRetry();
  // Ends the reads with `status` (logged), once the acknowledgements
  // before it are written.
  void Refuse(const absl::Status& status);
  // The client is gone or the stream broke: nothing more is acknowledged,
  // and a held event is left unpublished.
  void Abandon(const char* why);
  // Whether an event waits for a BLOCK subscriber.
  bool held() const { return prepared_.has_value(); }
  void StartRead();
  // Writes pending acknowledgements (resuming a paused read), or finishes.
  void Advance();
  // How many pending acknowledgements, from the first, are of stored
  // events; waits for the next one to be. Drops those the log failed to
  // store, ending the reads.
  int StoredAcks();
  // Counts an operation about to start.
  void Started() ABSL_LOCKS_EXCLUDED(mu_);
  // Counts a completion; releases self_ once nothing is pending.
  void Completed() ABSL_LOCKS_EXCLUDED(mu_);

  // First: destroyed last, once the members below are gone.
  IoThreads::CallToken token_;
  const Shared* const shared_;
  grpc::ServerCompletionQueue* const queue_;
  const int queue_index_;
  grpc::ServerContext context_;
  Stream stream_{&context_};
  MemberTag<PublishStreamCall> accepted_tag_{this,
                                             &PublishStreamCall::OnAccepted};
  MemberTag<PublishStreamCall> read_tag_{this, &PublishStreamCall::OnReadDone};
  MemberTag<PublishStreamCall> write_tag_{this,
                                          &PublishStreamCall::OnWriteDone};
  MemberTag<PublishStreamCall> wake_tag_{this, &PublishStreamCall::OnWake};
  MemberTag<PublishStreamCall> retry_tag_{this,
                                          &PublishStreamCall::OnRetryTimer};
  MemberTag<PublishStreamCall> finish_tag_{this,
                                           &PublishStreamCall::OnFinished};
  MemberTag<PublishStreamCall> done_tag_{this, &PublishStreamCall::OnDone};

  // The queue thread's alone.
  std::string peer_;
  // The peer as PeerLimits counts it (host, without the port).
  std::string limited_peer_;
  grpc::ByteBuffer raw_request_;
  // Requests read so far, the one being handled included.
  uint64_t requests_read_ = 0;
  v1::PublishStreamRequest request_;
  int next_event_ = 0;
  // The event of request_ at next_event_, admitted and prepared, while its
  // publish is held back (outside PublishEvents, set only then).
  std::optional<PreparedEvent> prepared_;
  // When the bus ends the holder in the way of prepared_.
  absl::Time held_until_ = absl::InfinitePast();
  grpc::Alarm retry_alarm_;
  bool retry_set_ = false;
  absl::Time retry_due_ = absl::InfinitePast();
  v1::PublishStreamResponse pending_;
  // The sequence AwaitStored was last armed for (0: none).
  uint64_t awaiting_stored_ = 0;
  grpc::ByteBuffer response_;
  bool reading_ = false;
  bool read_paused_ = false;
  bool writing_ = false;     // the headers or acknowledgements (write_tag_)
  bool reads_done_ = false;  // half-closed, broken, refused or ended
  bool finishing_ = false;
  bool done_ = false;  // the call has ended (done_tag_)
  absl::Status error_;
  std::shared_ptr<PublishStreamCall> self_;

  Mutex mu_;
  grpc::Alarm wake_alarm_ ABSL_GUARDED_BY(mu_);
  bool wake_set_ ABSL_GUARDED_BY(mu_) = false;
  // Operations started and not yet completed.
  int pending_ops_ ABSL_GUARDED_BY(mu_) = 0;
  // Finish was started: no more wake-ups.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_PUBLISH_STREAM_CALL_H_

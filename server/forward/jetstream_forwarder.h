// JetStreamForwarder: sends every event of the durable log, in sequence
// order, into a NATS JetStream stream.
//
// It reads the bus as an in-process subscriber from the sequence after its
// cursor (ForwardCursor); with a log, a reader behind the ring reads the
// log, so nothing is lost while NATS is away: the log keeps the backlog.
// Each event is published asynchronously with Nats-Msg-Id = the event id
// and the headers Eventbus-Instance, Eventbus-Sequence, Eventbus-Source and
// Content-Type; at most max_in_flight wait for their PubAck. The cursor
// moves only over a prefix of acknowledged events, and is stored after each
// PubAck that moves it. Any failure (connect, stream, publish, an ack error
// or an ack not received within ack_timeout, a lost connection) ends the
// attempt: the forwarder waits (exponential backoff with jitter) and starts
// again from its cursor, sending the unacknowledged events again; within
// the stream's duplicate window JetStream drops the copies.
//
// What retention removed before it was sent (only with max_backlog, see
// RetentionFloor) arrives as a Lag: logged with its range and counted
// (skipped_events), never silent. So is an event NATS can never take (over
// the server's max_payload, or refused for the stream's max_msg_size):
// retrying it would hold back every event after it forever.
//
// Thread-safety: Start and Stop from one thread; the rest from any.
#ifndef EVENTBUS_SERVER_FORWARD_JETSTREAM_FORWARDER_H_
#define EVENTBUS_SERVER_FORWARD_JETSTREAM_FORWARDER_H_

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "server/bus/bus.h"
#include "server/forward/forward_cursor.h"

namespace eventbus {

struct JetStreamForwarderOptions {
  // NATS server URLs ("nats://host:4222"), tried in turn.
  std::vector<std::string> urls;
  // The subject of each event: {source} and {type} ("audit", "space_name")
  // are replaced, with characters a subject token cannot hold as '_'.
  std::string subject = "eventbus.{source}.{type}";
  // The stream: created with these settings when missing, left alone when
  // it exists. Its subjects are the subject template's fixed prefix + ">".
  std::string stream = "EVENTBUS";
  int64_t replicas = 1;
  absl::Duration duplicate_window = absl::Minutes(2);
  // Credentials, each optional.
  std::string token;
  std::string user;
  std::string password;
  std::string credentials_file;  // a .creds file (JWT and NKey seed)
  std::string nkey;              // an NKey user: its public key
  std::string nkey_seed_file;    // and the file with its seed
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  uint64_t max_in_flight = 1024;
  // "proto" (the stored encoding) or "json".
  std::string encoding = "proto";
  absl::Duration ack_timeout = absl::Seconds(5);
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
  // Eventbus-Instance.
  std::string instance_id;
};

// The stream subjects for a subject template: its fixed tokens + ">"
// ("eventbus.{source}.{type}": "eventbus.>"), or the template when it has
// no placeholder.
std::string StreamSubjects(const std::string& subject);

class JetStreamForwarder {
 public:
  // Counters for the metrics page.
  enum Error { kConnect, kStream, kPublish, kAck, kDisconnected, kErrors };
  static const char* ErrorName(Error error);

  JetStreamForwarder(JetStreamForwarderOptions options, Bus bus,
                     std::shared_ptr<ForwardCursor> cursor);
  // Stops (see Stop).
  ~JetStreamForwarder();

  // Starts the forwarding thread; it keeps trying until Stop.
  void Start();
  // Waits up to `grace` for acknowledgements of what is in flight, then
  // stops. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(2));

  // The last sequence JetStream acknowledged (in order).
  uint64_t cursor() const { return cursor_->sequence(); }
  uint64_t forwarded() const { return forwarded_.load(); }
  uint64_t skipped() const { return skipped_.load(); }
  uint64_t errors(Error error) const { return errors_[error].load(); }
  bool connected() const { return connected_.load(); }

 private:
  struct InFlight {
    uint64_t sequence;  // the last of a skipped range, for a Lag
    bool acked;
    bool event;  // false: skipped, not forwarded
  };

  void Run();
  // One connection: until an error, Stop, or the drain (the bus closed and
  // everything read was acknowledged). OK only for the last two.
  absl::Status Forward();
  absl::Status Failed(Error error, absl::Status status);
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error,
                    void* closure);
  static void OnDisconnected(natsConnection* nc, void* closure);
  static void OnClosed(natsConnection* nc, void* closure);
  // `skipped`: JetStream refused it for good; it counts as skipped.
  void Acked(uint64_t sequence, const absl::Status& error, bool skipped = false)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Moves the cursor over the acknowledged prefix.
  void AdvanceLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JetStreamForwarderOptions options_;
  const Bus bus_;
  const std::shared_ptr<ForwardCursor> cursor_;
  std::atomic<uint64_t> forwarded_{0};
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> errors_[kErrors] = {};
  std::atomic<bool> connected_{false};

  Mutex mu_;
  CondVar changed_{&mu_};
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // While an attempt forwards (a lost connection then counts as an error).
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  // The attempt's connection has closed: its callbacks are over.
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Published and not yet passed by the cursor, in sequence order.
  std::deque<InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  // Set by a failed ack or a lost connection: the attempt ends.
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_FORWARD_JETSTREAM_FORWARDER_H_

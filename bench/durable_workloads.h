// W5 (durable publish) and W6 (replay after restart) of WORKLOADS.md against
// a real eventbusd with a durable log (storage.path), and the raw limit of
// the disk they run on.
//
// W5: a fresh eventbusd with storage.fsync=always; one PublishStream keeps
// at most `window` events unacknowledged; an ack means an fdatasync covered
// the event. Ack latency is the client sending the event (once the window let
// it go) to its ack read.
// W6: the log filled with `events` events as in W5 (a larger window),
// eventbusd stopped with SIGTERM and started again on the same directory:
// recovery is process start until a first Subscribe's headers arrive, and
// one Subscribe from the earliest event reads every event back.
// The raw limit: a loop of 256-byte write(2) calls with one fdatasync per
// `batch` of them, in a file of the same directory: what the disk allows
// one writer before any broker is involved.
//
// W5F and W2F: the same with forwarding into NATS JetStream (forward.nats)
// to a nats-server -js started for the case, on the same host. W5F is W5's
// publish; W2F paces one event per request at `rate` for `seconds`, W2's
// publisher. Both sample eventbus_forward_behind_events (stored, not yet
// acknowledged by JetStream) every 10 ms, wait until it is 0, then read the
// stream back message by message: each event once and in order, and its
// forward lag, the stream's store time of the message - the event's
// publish_time (both wall clock on this host; JetStream stores a message
// just before it sends its PubAck).
//
// The data sits under `data_root` (a real disk, not tmpfs: the note names
// the file system) in a directory of its own, removed afterwards.
#ifndef EVENTBUS_BENCH_DURABLE_WORKLOADS_H_
#define EVENTBUS_BENCH_DURABLE_WORKLOADS_H_

#include <cstdint>
#include <string>

namespace eventbus::bench {

struct DurableWorkloadOptions {
  std::string workload;  // "W5", "W6", "W5F" or "W2F"
  // W5: events published; W6: events filled, then replayed.
  uint64_t events = 100'000;
  // Events unacknowledged at once (W5: 256; W6's fill: 4096).
  int window = 256;
  // Events per PublishStream request (a shorter one when the window fills).
  int flush_every = 64;
  // storage.fsync of the daemon.
  std::string fsync = "always";
  // Parent directory of the data.
  std::string data_root = "/tmp";
  int client_threads = 1;
  // Completion: stop waiting when nothing arrived for this long.
  int idle_ms = 10'000;
  // W5F, W2F: the nats-server binary.
  std::string nats_server = "/usr/sbin/nats-server";
  // W2F: events per second and seconds (events = rate * seconds); 0
  // elsewhere (no pacing).
  double rate = 0;
  double seconds = 10;
};

// Runs one case and returns its JSON line; on a set-up failure, a line with
// an "error" key (and the failure on stderr).
std::string RunDurableWorkload(const DurableWorkloadOptions& options);

// The raw write + fdatasync loop: `events` appends of 256 bytes, one
// fdatasync per `batch`. Returns its JSON line (system "raw-fdatasync").
std::string RunRawSyncLoop(const std::string& data_root, uint64_t events,
                           int batch);

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_DURABLE_WORKLOADS_H_

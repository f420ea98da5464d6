// W1-W4 of WORKLOADS.md against a real eventbusd started for each case.
//
// Each case starts a fresh eventbusd (BrokerProcess) on 127.0.0.1:0, opens
// the subscribers' Subscribe streams (each subscriber on its own connection;
// in W4 100 streams on each of 10 connections), waits until the daemon sent
// every stream's headers (so each is registered), publishes on one
// PublishStream call with a bounded window of unacknowledged events (or, for
// comparison, asynchronous unary Publish calls), waits
// until every subscriber received or was told it lost every event, and
// prints one JSON line with the peers' keys.
//
// Clients are lean, like the peers': subscribers read responses through the
// generic (ByteBuffer) API and scan the wire bytes in place (sequence, stamp,
// Lagged), never building messages; all streams are driven by `client_threads`
// completion-queue threads, the publisher's completions by one more.
#ifndef EVENTBUS_BENCH_GRPC_WORKLOADS_H_
#define EVENTBUS_BENCH_GRPC_WORKLOADS_H_

#include <cstdint>
#include <string>

#include "eventbus/v1/eventbus.pb.h"

namespace eventbus::bench {

struct GrpcWorkloadOptions {
  std::string workload;  // "W1", "W2", "W3" or "W4"
  // Healthy subscribers (W3 adds one stalled subscriber).
  int subscribers = 1;
  // Events of W1 and W4; W2 and W3 publish rate * seconds.
  uint64_t events = 200'000;
  double rate = 5000;
  double seconds = 10;
  // The daemon's bus.capacity.
  uint64_t capacity = 1024;
  // Client connections for the subscribers; 0: one per subscriber.
  int connections = 0;
  // W4 --multiplexed: one SubscribeStream per connection carries its share
  // of the subscriptions, instead of one Subscribe stream each.
  bool multiplexed = false;
  // "stream": PublishStream (the default, the fastest path); "unary":
  // asynchronous unary Publish calls.
  std::string publish_rpc = "stream";
  // Events unacknowledged at once (stream) or Publish calls in flight at once
  // (unary; 1: one round trip per event). Paced runs use 1024.
  int publish_window = 1024;
  // Events per PublishStream request (PublishStreamRequest.events; a
  // shorter batch when the window fills); paced runs send every event in a
  // request of its own.
  int flush_every = 64;
  // The healthy subscribers' overflow policy (W3's stalled one keeps
  // DROP_OLDEST: it would hold everyone back).
  v1::Overflow overflow = v1::OVERFLOW_DROP_OLDEST;
  // grpc.http2.bdp_probe on the subscribers' channels.
  bool bdp_probe = false;
  int client_threads = 2;
  // Completion: stop waiting when nothing arrived for this long.
  int idle_ms = 2000;
};

// "drop-oldest", "block" or "disconnect" and back.
bool ParseOverflowFlag(const std::string& text, v1::Overflow* overflow);
std::string OverflowFlag(v1::Overflow overflow);

// Runs one case and returns its JSON line; on a set-up failure, a line with
// an "error" key (and the failure on stderr).
std::string RunGrpcWorkload(const GrpcWorkloadOptions& options);

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_GRPC_WORKLOADS_H_

// NatsSource: `eventbus subscribe --nats`, the events forwarded into a NATS
// JetStream stream (forward.nats) instead of one daemon's bus: the merged
// stream of a fleet of sidecars. It reads the stream with an ordered
// consumer (nats.c re-creates it on a gap or a reconnect) and prints each
// event as `eventbus subscribe` does, one JSON line per event (the protobuf
// JSON mapping of eventbus.v1.Event, parsed from the message by its
// Content-Type). Connection changes go to stderr.
#ifndef EVENTBUS_CLIENT_CLI_NATS_SOURCE_H_
#define EVENTBUS_CLIENT_CLI_NATS_SOURCE_H_

#include <cstdint>
#include <string>

#include "client/cli/interrupt.h"

namespace eventbus::cli {

struct NatsSourceOptions {
  // Comma-separated server URLs; credentials may ride in them
  // (nats://user:password@host:4222, nats://token@host:4222).
  std::string urls;
  std::string stream = "EVENTBUS";
  // Messages of the stream on these subjects.
  std::string subject = "eventbus.>";
  // From the stream's first message, else only what arrives from now on.
  bool from_earliest = false;
  // Exit 0 after this many events; 0: no limit.
  uint64_t count = 0;
};

// Runs until `count` events, an interrupt (returns kInterrupted) or a
// failure (returns 64 + the gRPC code of its status, as RPC failures do:
// 78 when NATS cannot be reached, 73 when the stream does not exist).
int SubscribeFromNats(const NatsSourceOptions& options, Interrupt& interrupt);

}  // namespace eventbus::cli

#endif  // EVENTBUS_CLIENT_CLI_NATS_SOURCE_H_

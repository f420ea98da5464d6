// The `forward` section of the config: forwarding the durable log into
// NATS JetStream (server/forward/). Plain values; the rows are in
// forward_section.cc, and ValidateConfig checks that it has a log to read.
#ifndef EVENTBUS_SERVER_CONFIG_FORWARD_SECTION_H_
#define EVENTBUS_SERVER_CONFIG_FORWARD_SECTION_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace eventbus {

// forward.nats: JetStream. Off while `url` is empty.
struct NatsForwardConfig {
  // forward.nats.url: one or more server URLs, comma-separated.
  std::string url;
  // forward.nats.subject: {source} and {type} are replaced per event.
  std::string subject = "eventbus.{source}.{type}";
  // forward.nats.stream: created with the two settings below when missing,
  // left alone when it exists.
  std::string stream = "EVENTBUS";
  uint64_t replicas = 1;
  absl::Duration duplicate_window = absl::Minutes(2);
  // Credentials, each optional.
  std::string token;
  std::string user;
  std::string password;
  std::string credentials_file;
  // forward.nats.nkey and nkey_seed_file: an NKey user without a JWT.
  std::string nkey;
  std::string nkey_seed_file;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // forward.nats.max_in_flight: events published and not yet acknowledged.
  uint64_t max_in_flight = 1024;
  // forward.nats.encoding: "proto" (the stored bytes) or "json".
  std::string encoding = "proto";
  // forward.nats.max_backlog: 0 keeps every event not yet forwarded from
  // retention; N lets retention remove events more than N behind the log's
  // end (the forwarder then logs and counts the range it skips).
  uint64_t max_backlog = 0;
};

struct ForwardConfig {
  NatsForwardConfig nats;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_FORWARD_SECTION_H_

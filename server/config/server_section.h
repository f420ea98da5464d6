// The `server` section of the config (and `server.tls` within it): the
// listener and the connection lifecycle. Plain values. The rows that read
// them are in server_section.cc.
#ifndef EVENTBUS_SERVER_CONFIG_SERVER_SECTION_H_
#define EVENTBUS_SERVER_CONFIG_SERVER_SECTION_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace eventbus {

// server.tls: TLS on the listener. Empty strings: off. The files are read
// when the daemon starts and at each reload (SIGHUP; see ServerTls), and
// ValidateConfig checks the combinations.
struct TlsConfig {
  // server.tls.cert_file: PEM certificate chain of the server.
  std::string cert_file;
  // server.tls.key_file: PEM private key of that certificate.
  std::string key_file;
  // server.tls.client_ca_file: PEM CA certificates. When set, clients must
  // present a certificate signed by one of them (mTLS).
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty(); }
};

// server: the listener and the connection lifecycle.
struct ServerConfig {
  // server.address: host:port (host a name, an IPv4 address or an [IPv6]
  // address; port 0..65535, 0 picks a free port) or unix:PATH.
  std::string address = "127.0.0.1:50051";
  // server.drain_timeout: how long shutdown waits for subscribers to drain;
  // a duration string like "5s", "500ms", "1m"; 0 <= value <= 1h.
  absl::Duration drain_timeout = absl::Seconds(5);
  // server.max_subscribers: concurrent subscriptions;
  // 1..BusOptions::kMaxSubscribers.
  uint32_t max_subscribers = 10000;
  // server.keepalive_time: the daemon pings a connection that has been quiet
  // this long; 1s..24h.
  absl::Duration keepalive_time = absl::Minutes(1);
  // server.keepalive_timeout: a connection whose ping is not answered within
  // this long is closed, and its streams with it; 1s..1h.
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // server.max_memory: what gRPC's buffers (connections, reads, calls) may
  // hold together, gRPC's resource quota; 16MiB..64GiB, and at least four
  // requests of the largest size (bus.max_event_bytes + 64 KiB, at least
  // 4 MiB). Beyond it gRPC closes idle connections, then cancels streams
  // with RESOURCE_EXHAUSTED. The ring and the Subscribe response budget are
  // outside it.
  uint64_t max_memory = uint64_t{64} << 20;
  // server.io_threads: completion queues serving Subscribe streams, one
  // thread each; 0 (the default) means one per CPU; 0..256.
  uint64_t io_threads = 0;
  TlsConfig tls;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_SERVER_SECTION_H_

// The rows of `server` and `server.tls`.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/bus/bus.h"
#include "server/config/address.h"
#include "server/config/settings.h"

namespace eventbus {
namespace {

// host:port, [IPv6]:port or unix:PATH (see address.h).
ValueKind<std::string> ListenAddress() {
  return {
      .metavar = "ADDR",
      .expected = "a string",
      .parse = [](absl::string_view text) -> absl::StatusOr<std::string> {
        const std::string address(text);
        if (absl::Status status = ValidateAddress(address); !status.ok()) {
          return status;
        }
        return address;
      },
      .show = [](const std::string& address) { return address; },
  };
}

}  // namespace

std::vector<Setting> ServerSettings() {
  const SectionRows<ServerConfig> server("server", &Config::server);
  const SectionRows<TlsConfig> tls = server.Nested("tls", &ServerConfig::tls);
  return {
      server.Row("address", &ServerConfig::address, ListenAddress(),
                 "listen on host:port, [IPv6]:port or unix:PATH (port 0 picks "
                 "a free port)"),
      server.Row("drain_timeout", &ServerConfig::drain_timeout,
                 DurationIn(absl::ZeroDuration(), absl::Hours(1)),
                 "on shutdown, wait this long for subscribers to drain"),
      server.Row("max_subscribers", &ServerConfig::max_subscribers,
                 IntegerIn(1, BusOptions::kMaxSubscribers),
                 "most concurrent subscriptions"),
      server.Row("keepalive_time", &ServerConfig::keepalive_time,
                 DurationIn(absl::Seconds(1), absl::Hours(24)),
                 "ping a connection quiet for this long"),
      server.Row("keepalive_timeout", &ServerConfig::keepalive_timeout,
                 DurationIn(absl::Seconds(1), absl::Hours(1)),
                 "close a connection whose ping is unanswered this long"),
      server.Row("max_memory", &ServerConfig::max_memory,
                 SizeIn(uint64_t{16} << 20, uint64_t{64} << 30),
                 "most memory gRPC's connection and call buffers may hold"),
      server.Row("io_threads", &ServerConfig::io_threads, IntegerIn(0, 256),
                 "Subscribe threads, one completion queue each; 0: per CPU"),
      tls.Row("cert_file", &TlsConfig::cert_file, FilePath(),
              "serve TLS with this PEM certificate chain (needs the key file)"),
      tls.Row("key_file", &TlsConfig::key_file, FilePath(),
              "PEM private key of the TLS certificate"),
      tls.Row("client_ca_file", &TlsConfig::client_ca_file, FilePath(),
              "require client certificates signed by these PEM CAs (mTLS)"),
  };
}

}  // namespace eventbus

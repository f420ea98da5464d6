// The composition root's one job besides starting things: turning the
// Config into each component's own options. Nothing else reads a Config;
// each component sees only its settings, and a secret (the tokens of
// EVENTBUS_AUTH_TOKENS) is moved into the one component that needs it.
// Pure functions: thread-safe.
#ifndef EVENTBUS_SERVER_DAEMON_COMPONENT_OPTIONS_H_
#define EVENTBUS_SERVER_DAEMON_COMPONENT_OPTIONS_H_

#include "server/bus/bus.h"
#include "server/config/config.h"
#include "server/forward/jetstream_forwarder.h"
#include "server/security/authorizer.h"
#include "server/security/peer_limits.h"
#include "server/security/request_limits.h"
#include "server/security/tls_credentials.h"

namespace eventbus {

// bus.capacity, bus.max_event_bytes and server.max_subscribers.
BusOptions BusOptionsFrom(const Config& config);

// storage.path, segment_bytes, repair and storage.retention.*.
LogOptions LogOptionsFrom(const StorageConfig& storage);

// storage.fsync, over `log`. The value was checked when it was read.
StorageOptions StorageOptionsFrom(const StorageConfig& storage,
                                  std::shared_ptr<Log> log);

// server.tls.*.
TlsOptions TlsOptionsFrom(const ServerConfig& server);

// forward.nats.*, for the daemon `instance_id`.
JetStreamForwarderOptions ForwarderOptionsFrom(const NatsForwardConfig& nats,
                                               const std::string& instance_id);

// auth.*; takes the tokens out of `auth` (left empty).
Authorizer::Options AuthorizerOptionsFrom(AuthConfig& auth);

// limits.max_subscribers_per_peer, publish_rate_per_peer and
// publish_burst_per_peer.
PeerLimits::Options PeerLimitsOptionsFrom(const LimitsConfig& limits);

// limits.max_attributes, max_attribute_key_bytes, max_attribute_value_bytes
// and max_filter_size.
RequestLimits RequestLimitsFrom(const LimitsConfig& limits);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_DAEMON_COMPONENT_OPTIONS_H_

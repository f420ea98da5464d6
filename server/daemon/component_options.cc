#include "server/daemon/component_options.h"

#include <utility>

#include "absl/strings/str_split.h"

namespace eventbus {

BusOptions BusOptionsFrom(const Config& config) {
  BusOptions options;
  options.capacity = config.bus.capacity;
  options.lanes = {.high = config.bus.lanes.high.capacity,
                   .normal = config.bus.lanes.normal.capacity,
                   .low = config.bus.lanes.low.capacity};
  options.max_event_bytes = config.bus.max_event_bytes;
  options.max_block = config.bus.max_block;
  options.max_subscribers = config.server.max_subscribers;
  return options;
}

LogOptions LogOptionsFrom(const StorageConfig& storage) {
  return LogOptions{.path = storage.path,
                    .segment_bytes = storage.segment_bytes,
                    .max_bytes = storage.retention.max_bytes,
                    .max_events = storage.retention.max_events,
                    .max_age = storage.retention.max_age,
                    .repair = storage.repair};
}

StorageOptions StorageOptionsFrom(const StorageConfig& storage,
                                  std::shared_ptr<Log> log) {
  StorageOptions options{.log = std::move(log)};
  if (storage.fsync == "always") {
    options.fsync = StorageOptions::Fsync::kAlways;
  } else if (storage.fsync == "never") {
    options.fsync = StorageOptions::Fsync::kNever;
  } else {
    options.fsync = StorageOptions::Fsync::kInterval;
    absl::Duration interval;
    if (absl::ParseDuration(storage.fsync, &interval)) {
      options.interval = interval;
    }
  }
  return options;
}

TlsOptions TlsOptionsFrom(const ServerConfig& server) {
  return {.cert_file = server.tls.cert_file,
          .key_file = server.tls.key_file,
          .client_ca_file = server.tls.client_ca_file};
}

Authorizer::Options AuthorizerOptionsFrom(AuthConfig& auth) {
  Authorizer::Options options{.tokens_file = auth.tokens_file,
                              .tokens = std::move(auth.tokens),
                              .subjects = auth.subjects};
  // A real token outgrows the string's inline buffer, so the move hands over
  // the one heap copy, which the authorizer erases once hashed.
  auth.tokens.clear();
  return options;
}

PeerLimits::Options PeerLimitsOptionsFrom(const LimitsConfig& limits) {
  return {.max_subscribers_per_peer = limits.max_subscribers_per_peer,
          .publish_rate = limits.publish_rate_per_peer,
          .publish_burst = limits.publish_burst_per_peer};
}

RequestLimits RequestLimitsFrom(const LimitsConfig& limits) {
  return {.max_attributes = limits.max_attributes,
          .max_attribute_key_bytes = limits.max_attribute_key_bytes,
          .max_attribute_value_bytes = limits.max_attribute_value_bytes,
          .max_filter_size = limits.max_filter_size,
          .max_filter_expression_bytes = limits.max_filter_expression_bytes,
          .max_metadata_bytes = limits.max_metadata_bytes};
}

JetStreamForwarderOptions ForwarderOptionsFrom(const NatsForwardConfig& nats,
                                               const std::string& instance_id) {
  JetStreamForwarderOptions options{
      .urls = absl::StrSplit(nats.url, ',', absl::SkipEmpty()),
      .subject = nats.subject,
      .stream = nats.stream,
      .replicas = static_cast<int64_t>(nats.replicas),
      .duplicate_window = nats.duplicate_window,
      .token = nats.token,
      .user = nats.user,
      .password = nats.password,
      .credentials_file = nats.credentials_file,
      .nkey = nats.nkey,
      .nkey_seed_file = nats.nkey_seed_file,
      .tls_ca_file = nats.tls_ca_file,
      .tls_cert_file = nats.tls_cert_file,
      .tls_key_file = nats.tls_key_file,
      .max_in_flight = nats.max_in_flight,
      .encoding = nats.encoding,
      .instance_id = instance_id};
  return options;
}

}  // namespace eventbus

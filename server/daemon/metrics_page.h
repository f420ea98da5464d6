// The /metrics page: the bus's numbers (BusStats, Subscribers), the gRPC
// layer's (ServiceMetrics), the log's and the process's, written in the
// Prometheus text format (server/metrics/exposition.h). README "Metrics"
// lists the families.
//
// Per-subscriber series are bounded: only subscribers that set a name get
// one, one series per name (the furthest behind of those sharing it), at
// most `max_subscriber_series` names, the furthest behind first.
// Thread-safe: it reads thread-safe sources and keeps nothing.
#ifndef EVENTBUS_SERVER_DAEMON_METRICS_PAGE_H_
#define EVENTBUS_SERVER_DAEMON_METRICS_PAGE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "server/bus/bus.h"
#include "server/forward/jetstream_forwarder.h"
#include "server/grpc/service_metrics.h"

namespace eventbus {

// Where the page's numbers come from; all of it outlives the endpoint.
struct MetricsSources {
  const Bus* bus = nullptr;
  const ServiceMetrics* service = nullptr;
  std::string version;
  uint32_t max_subscriber_series = 100;
  // Reloads (SIGHUP) that applied and that failed.
  const std::atomic<uint64_t>* reloads_applied = nullptr;
  const std::atomic<uint64_t>* reloads_failed = nullptr;
  // Null without forward.nats.
  const JetStreamForwarder* forwarder = nullptr;
};

std::string MetricsPage(const MetricsSources& sources);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_DAEMON_METRICS_PAGE_H_

// The `metrics` section of the config: the Prometheus endpoint. Plain
// values. The rows that read them are in metrics_section.cc.
#ifndef EVENTBUS_SERVER_CONFIG_METRICS_SECTION_H_
#define EVENTBUS_SERVER_CONFIG_METRICS_SECTION_H_

#include <cstdint>
#include <string>

namespace eventbus {

// metrics: GET /metrics and GET /healthz over HTTP.
struct MetricsConfig {
  // metrics.address: IPv4:port to serve on (port 0 picks one); empty: off.
  // (OpsML serves its own metrics on its port + 1, 3001 by default.)
  std::string address;
  // metrics.max_subscriber_series: named subscribers given their own
  // eventbus_subscriber_behind_events series, 0..10000.
  uint32_t max_subscriber_series = 100;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_METRICS_SECTION_H_

#include "server/daemon/metrics_page.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "server/metrics/exposition.h"
#include "server/metrics/process_stats.h"

namespace eventbus {
namespace {

// Codes shown even at 0, so that rate() has a series from the start.
constexpr absl::StatusCode kUsualRefusals[] = {
    absl::StatusCode::kInvalidArgument,  absl::StatusCode::kResourceExhausted,
    absl::StatusCode::kUnavailable,      absl::StatusCode::kUnauthenticated,
    absl::StatusCode::kPermissionDenied, absl::StatusCode::kCancelled,
    absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kOutOfRange};

void WriteByCode(Exposition* page, const char* name, const char* help,
                 uint64_t (ServiceMetrics::*count)(int) const,
                 const ServiceMetrics& service) {
  page->Family(name, "counter", help);
  for (int code = 1; code < ServiceMetrics::kCodes; ++code) {
    const uint64_t value = (service.*count)(code);
    const bool usual =
        std::find(std::begin(kUsualRefusals), std::end(kUsualRefusals),
                  static_cast<absl::StatusCode>(code)) !=
        std::end(kUsualRefusals);
    if (value == 0 && !usual) continue;
    page->Sample(name, static_cast<double>(value),
                 {{"code", absl::StatusCodeToString(
                               static_cast<absl::StatusCode>(code))}});
  }
}

}  // namespace

std::string MetricsPage(const MetricsSources& sources) {
  const BusStats stats = sources.bus->Stats();
  const ServiceMetrics& service = *sources.service;
  Exposition page;
  page.Family("eventbus_build_info", "gauge",
              "Always 1; the version of eventbusd serving.");
  page.Sample("eventbus_build_info", 1, {{"version", sources.version}});
  page.Counter("eventbus_events_published_total",
               "Events published since the daemon started.",
               static_cast<double>(stats.published));
  WriteByCode(&page, "eventbus_publish_rejected_total",
              "Events refused or not stored, by gRPC status code.",
              &ServiceMetrics::publish_rejected, service);
  WriteByCode(&page, "eventbus_subscribe_rejected_total",
              "Subscribe calls refused, by gRPC status code.",
              &ServiceMetrics::subscribe_rejected, service);
  page.Counter("eventbus_events_delivered_total",
               "Events handed to subscribers for writing (after their "
               "filters), over every subscriber.",
               static_cast<double>(stats.delivered));
  page.Counter("eventbus_events_missed_total",
               "Events subscribers lost: the sum of every Lagged.missed sent.",
               static_cast<double>(stats.missed));
  page.Gauge("eventbus_subscribers", "Subscriptions registered now.",
             static_cast<double>(stats.subscribers));
  page.Gauge("eventbus_blocked_publishers",
             "Publishers waiting for a BLOCK subscriber now.",
             static_cast<double>(stats.blocked_publishers));
  page.Family("eventbus_subscriptions_ended_total", "counter",
              "Subscribe streams ended, by reason: drained (read everything "
              "at shutdown), cancelled (the client left), overflow (its "
              "overflow policy ended it), error.");
  for (int reason = 0; reason < ServiceMetrics::kEndReasons; ++reason) {
    const auto end = static_cast<ServiceMetrics::EndReason>(reason);
    page.Sample("eventbus_subscriptions_ended_total",
                static_cast<double>(service.subscriptions_ended(end)),
                {{"reason", ServiceMetrics::EndReasonName(end)}});
  }
  page.Gauge("eventbus_ring_events", "Events held in the ring now.",
             static_cast<double>(stats.ring_events));
  page.Gauge("eventbus_ring_capacity", "Events the ring holds at most.",
             static_cast<double>(stats.capacity));
  page.Family("eventbus_lane_events", "gauge",
              "Events held in the ring now, by priority lane.");
  page.Family("eventbus_lane_capacity", "gauge",
              "Events a priority lane holds at most "
              "(bus.lanes.<priority>.capacity).");
  static constexpr const char* kLaneNames[] = {"high", "normal", "low"};
  for (size_t lane = 0; lane < stats.lane_events.size(); ++lane) {
    page.Sample("eventbus_lane_events",
                static_cast<double>(stats.lane_events[lane]),
                {{"priority", kLaneNames[lane]}});
  }
  for (size_t lane = 0; lane < stats.lane_capacity.size(); ++lane) {
    page.Sample("eventbus_lane_capacity",
                static_cast<double>(stats.lane_capacity[lane]),
                {{"priority", kLaneNames[lane]}});
  }
  if (const JetStreamForwarder* forwarder = sources.forwarder) {
    page.Counter("eventbus_forward_events_total",
                 "Events JetStream acknowledged (forward.nats).",
                 static_cast<double>(forwarder->forwarded()));
    const uint64_t head = stats.next_sequence - 1;
    page.Gauge("eventbus_forward_behind_events",
               "Stored events not yet acknowledged by JetStream.",
               static_cast<double>(head > forwarder->cursor()
                                       ? head - forwarder->cursor()
                                       : 0));
    page.Counter("eventbus_forward_skipped_events_total",
                 "Events not forwarded: removed by retention first "
                 "(forward.nats.max_backlog), or too large for NATS.",
                 static_cast<double>(forwarder->skipped()));
    page.Family("eventbus_forward_errors_total", "counter",
                "Forwarding attempts ended, by reason: connect, stream, "
                "publish, ack, disconnected.");
    for (int error = 0; error < JetStreamForwarder::kErrors; ++error) {
      const auto reason = static_cast<JetStreamForwarder::Error>(error);
      page.Sample("eventbus_forward_errors_total",
                  static_cast<double>(forwarder->errors(reason)),
                  {{"reason", JetStreamForwarder::ErrorName(reason)}});
    }
    page.Gauge("eventbus_forward_connected",
               "1 while the forwarder is connected to NATS JetStream.",
               forwarder->connected() ? 1 : 0);
  }
  page.Gauge("eventbus_head_sequence",
             "The sequence of the last event published (0: none yet).",
             static_cast<double>(stats.next_sequence - 1));
  page.Gauge("eventbus_oldest_sequence",
             "The oldest sequence a subscriber can still read.",
             static_cast<double>(stats.oldest_sequence));
  page.Family("eventbus_delivery_latency_seconds", "histogram",
              "Time from an event's publish to the start of the write that "
              "carries it to a subscriber (replays left out).");
  page.HistogramSamples("eventbus_delivery_latency_seconds",
                        service.delivery_latency().Snapshot());

  // Named subscribers, the furthest behind first, one series per name.
  std::map<std::string, uint64_t> behind_by_name;
  for (const SubscriberSnapshot& subscriber : sources.bus->Subscribers()) {
    if (subscriber.name.empty()) continue;
    const uint64_t behind = stats.next_sequence > subscriber.next_sequence
                                ? stats.next_sequence - subscriber.next_sequence
                                : 0;
    uint64_t& kept = behind_by_name[subscriber.name];
    kept = std::max(kept, behind);
  }
  std::vector<std::pair<std::string, uint64_t>> behind(behind_by_name.begin(),
                                                       behind_by_name.end());
  std::stable_sort(
      behind.begin(), behind.end(),
      [](const auto& a, const auto& b) { return a.second > b.second; });
  page.Family("eventbus_subscriber_behind_events", "gauge",
              "Events published that a named subscriber has not read yet "
              "(the furthest behind of those sharing a name).");
  for (size_t i = 0; i < behind.size() && i < sources.max_subscriber_series;
       ++i) {
    page.Sample("eventbus_subscriber_behind_events",
                static_cast<double>(behind[i].second),
                {{"subscriber", behind[i].first}});
  }
  page.Gauge(
      "eventbus_subscriber_series_omitted",
      "Named subscribers left out of eventbus_subscriber_behind_events "
      "by metrics.max_subscriber_series.",
      static_cast<double>(behind.size() > sources.max_subscriber_series
                              ? behind.size() - sources.max_subscriber_series
                              : 0));

  if (stats.durable) {
    page.Gauge("eventbus_storage_bytes", "Bytes of the durable log's segments.",
               static_cast<double>(stats.log_bytes));
    page.Gauge("eventbus_storage_segments", "Segments in the durable log.",
               static_cast<double>(stats.log_segments));
    page.Family("eventbus_storage_fsync_duration_seconds", "histogram",
                "Time each data sync of the durable log took.");
    page.HistogramSamples(
        "eventbus_storage_fsync_duration_seconds",
        sources.bus->options().storage.log->sync_durations().Snapshot());
  }
  if (sources.reloads_applied != nullptr) {
    page.Family("eventbus_config_reloads_total", "counter",
                "Configuration reloads (SIGHUP), by result.");
    page.Sample("eventbus_config_reloads_total",
                static_cast<double>(sources.reloads_applied->load()),
                {{"result", "applied"}});
    page.Sample("eventbus_config_reloads_total",
                static_cast<double>(sources.reloads_failed->load()),
                {{"result", "failed"}});
  }
  WriteProcessMetrics(&page);
  return page.text();
}

}  // namespace eventbus

#include "bench/grpc_workloads.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_event.h"
#include "bench/broker_process.h"
#include "bench/grpc_clients.h"
#include "bench/json_line.h"
#include "bench/proc_stats.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::bench {
namespace {

std::string ErrorLine(const GrpcWorkloadOptions& options,
                      const std::string& error) {
  std::fprintf(stderr, "[eventbus-bench] %s S=%d: %s\n",
               options.workload.c_str(), options.subscribers, error.c_str());
  return JsonLine()
      .Str("system", "eventbus")
      .Str("workload", options.workload)
      .Int("subscribers", options.subscribers)
      .Str("error", error)
      .Done();
}

// Everything the clients of one case own; destroyed in order: streams
// cancelled and finished before the queues shut down.
struct Clients {
  std::vector<std::unique_ptr<CompletionThread>> threads;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<std::unique_ptr<StreamSubscriber>> subscribers;
  // --multiplexed: the SubscribeStream calls carrying the subscriptions.
  std::vector<std::unique_ptr<MultiplexedStream>> streams;
  std::unique_ptr<StreamSubscriber> stalled;
  // Every healthy subscription, on either kind of stream.
  std::vector<const SubscriberCounters*> counters;

  ~Clients() {
    for (auto& subscriber : subscribers) subscriber->Cancel();
    for (auto& stream : streams) stream->Cancel();
    if (stalled) stalled->Cancel();
    const bool all_finished = WaitFor(
        [&] {
          for (auto& subscriber : subscribers) {
            if (!subscriber->finished()) return false;
          }
          for (auto& stream : streams) {
            if (!stream->finished()) return false;
          }
          return !stalled || stalled->finished();
        },
        [] { return 0; }, 10'000, 10'000);
    if (!all_finished) {
      // gRPC still refers to them: leak rather than free under it.
      std::fprintf(stderr, "[eventbus-bench] streams did not finish\n");
      for (auto& subscriber : subscribers) subscriber.release();
      for (auto& stream : streams) stream.release();
      stalled.release();
    }
    for (auto& thread : threads) thread->Shutdown();
    threads.clear();
  }
};

}  // namespace

bool ParseOverflowFlag(const std::string& text, v1::Overflow* overflow) {
  if (text == "drop-oldest") {
    *overflow = v1::OVERFLOW_DROP_OLDEST;
  } else if (text == "block") {
    *overflow = v1::OVERFLOW_BLOCK;
  } else if (text == "disconnect") {
    *overflow = v1::OVERFLOW_DISCONNECT;
  } else {
    return false;
  }
  return true;
}

std::string OverflowFlag(v1::Overflow overflow) {
  switch (overflow) {
    case v1::OVERFLOW_BLOCK:
      return "block";
    case v1::OVERFLOW_DISCONNECT:
      return "disconnect";
    default:
      return "drop-oldest";
  }
}

std::string RunGrpcWorkload(const GrpcWorkloadOptions& options) {
  const std::string& workload = options.workload;
  const bool paced = workload == "W2" || workload == "W3";
  const bool stalled_reader = workload == "W3";
  const int subscribers = options.subscribers;
  const uint64_t events =
      paced
          ? static_cast<uint64_t>(std::llround(options.rate * options.seconds))
          : options.events;
  const int connections = options.connections > 0
                              ? std::min(options.connections, subscribers)
                              : subscribers;

  absl::StatusOr<std::unique_ptr<BrokerProcess>> broker_or =
      BrokerProcess::Start({
          "--address=127.0.0.1:0",
          absl::StrCat("--capacity=", options.capacity),
          absl::StrCat("--max-subscribers=", std::max(10000, subscribers + 16)),
          // Every bench client is one peer (127.0.0.1): lift the per-peer
          // quotas, as the peers run without any.
          absl::StrCat("--max-subscribers-per-peer=",
                       std::max(10000, subscribers + 16)),
          "--publish-rate-per-peer=0",
          // "info": the start-up line names the port; nothing is logged per
          // event below "debug".
          "--log-level=info",
      });
  if (!broker_or.ok()) return ErrorLine(options, broker_or.status().ToString());
  BrokerProcess& broker = **broker_or;
  const pid_t pid = broker.pid();
  std::fprintf(stderr, "[eventbus-bench] %s S=%d: eventbusd pid %d on %s\n",
               workload.c_str(), subscribers, pid, broker.address().c_str());

  const ProcessMemory memory_before = ReadProcessMemory(pid);
  const double broker_cpu_before = ReadProcessCpuSeconds(pid);
  const double self_cpu_before = SelfCpuSeconds();
  const HostCpu host_before = ReadHostCpu();

  Clients clients;
  for (int i = 0; i < options.client_threads; ++i) {
    clients.threads.push_back(std::make_unique<CompletionThread>());
  }
  for (int i = 0; i < connections + (stalled_reader ? 1 : 0); ++i) {
    clients.channels.push_back(
        NewChannel(broker.address(), i, options.bdp_probe));
    clients.stubs.push_back(
        std::make_unique<grpc::GenericStub>(clients.channels.back()));
  }
  const size_t latency_capacity = paced ? events + 1024 : 0;
  if (options.multiplexed) {
    // One SubscribeStream per connection, the subscriptions spread evenly.
    for (int c = 0; c < connections; ++c) {
      const int count =
          subscribers / connections + (c < subscribers % connections ? 1 : 0);
      clients.streams.push_back(std::make_unique<MultiplexedStream>(
          clients.stubs[c].get(),
          clients.threads[c % clients.threads.size()]->queue(),
          absl::StrCat("bench-", c, "-"), count, latency_capacity,
          options.overflow));
      for (const auto& subscription : clients.streams.back()->subscriptions()) {
        clients.counters.push_back(subscription.get());
      }
    }
  } else {
    for (int i = 0; i < subscribers; ++i) {
      // W4: subscriber i on connection i % connections (100 streams each).
      clients.subscribers.push_back(std::make_unique<StreamSubscriber>(
          clients.stubs[i % connections].get(),
          clients.threads[i % clients.threads.size()]->queue(),
          absl::StrCat("bench-", i), /*stalled=*/false, latency_capacity,
          options.overflow));
      clients.counters.push_back(clients.subscribers.back().get());
    }
  }
  if (stalled_reader) {
    clients.stalled = std::make_unique<StreamSubscriber>(
        clients.stubs.back().get(), clients.threads[0]->queue(),
        "bench-stalled", /*stalled=*/true, 0);
  }
  for (auto& subscriber : clients.subscribers) subscriber->Start();
  for (auto& stream : clients.streams) stream->Start();
  if (clients.stalled) clients.stalled->Start();
  auto ready_count = [&] {
    uint64_t ready = 0;
    for (const SubscriberCounters* subscriber : clients.counters) {
      ready += subscriber->ready();
    }
    return ready + (clients.stalled && clients.stalled->ready());
  };
  const uint64_t streams = subscribers + (stalled_reader ? 1 : 0);
  if (!WaitFor([&] { return ready_count() == streams; }, ready_count, 30'000,
               60'000)) {
    return ErrorLine(options, absl::StrCat("only ", ready_count(), " of ",
                                           streams, " streams started"));
  }
  usleep(200'000);  // let the daemon settle before sampling its RSS
  const ProcessMemory memory_subscribed = ReadProcessMemory(pid);

  auto publisher_channel =
      NewChannel(broker.address(), connections + 1, options.bdp_probe);
  if (!publisher_channel->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(10))) {
    return ErrorLine(options, "the publisher cannot connect");
  }
  // Paced runs keep a large window: the pacing, not the acknowledgements,
  // sets the rate.
  const bool stream_rpc = options.publish_rpc != "unary";
  const int window = paced ? 1024 : options.publish_window;
  std::unique_ptr<EventPublisher> publisher;
  if (stream_rpc) {
    publisher = std::make_unique<StreamPublisher>(
        publisher_channel, window, paced ? 1 : options.flush_every);
  } else {
    publisher = std::make_unique<Publisher>(publisher_channel, window);
  }
  *publisher->event() = BenchEvent();
  const size_t event_bytes = BenchEventWireSize(events);

  std::fprintf(stderr, "[eventbus-bench] %s S=%d: publishing %llu events\n",
               workload.c_str(), subscribers, (unsigned long long)events);
  int64_t start_ns, publish_end_ns;
  int64_t max_publish_lag_ns = 0;
  uint64_t late_1ms = 0;
  if (!paced) {
    start_ns = MonotonicNanos();
    for (uint64_t i = 0; i < events; ++i) {
      StampEvent(MonotonicNanos(), publisher->event());
      publisher->Publish();
    }
    publisher->Flush();
    publish_end_ns = MonotonicNanos();
  } else {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    const int64_t period_ns = static_cast<int64_t>(1e9 / options.rate);
    start_ns = MonotonicNanos() + 1'000'000;
    for (uint64_t i = 0; i < events; ++i) {
      const int64_t target = start_ns + static_cast<int64_t>(i) * period_ns;
      if (MonotonicNanos() < target) {
        const timespec at = {static_cast<time_t>(target / 1'000'000'000),
                             static_cast<long>(target % 1'000'000'000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) ==
               EINTR) {
        }
      }
      const int64_t stamp = MonotonicNanos();
      max_publish_lag_ns = std::max(max_publish_lag_ns, stamp - target);
      if (stamp - target > 1'000'000) ++late_1ms;
      StampEvent(stamp, publisher->event());
      publisher->Publish();
    }
    publisher->Flush();
    publish_end_ns = MonotonicNanos();
  }

  auto accounted = [&] {
    uint64_t total = 0;
    for (const SubscriberCounters* subscriber : clients.counters) {
      total += subscriber->received() + subscriber->missed();
    }
    return total;
  };
  const bool complete = WaitFor(
      [&] {
        for (const SubscriberCounters* subscriber : clients.counters) {
          if (subscriber->received() + subscriber->missed() < events) {
            return false;
          }
        }
        return true;
      },
      accounted, options.idle_ms, 180'000);
  const double broker_cpu_s = ReadProcessCpuSeconds(pid) - broker_cpu_before;
  const double client_cpu_s = SelfCpuSeconds() - self_cpu_before;
  const HostCpu host_after = ReadHostCpu();
  const ProcessMemory memory_after = ReadProcessMemory(pid);

  uint64_t delivered = 0, drops = 0, drops_max = 0, lagged_missed = 0;
  uint64_t lag_notices = 0, responses = 0, gaps = 0, reordered = 0;
  int subscribers_short = 0, disconnected = 0, malformed = 0;
  int64_t last_receive_ns = 0;
  std::vector<int64_t> latencies;
  for (const SubscriberCounters* subscriber : clients.counters) {
    const uint64_t received = subscriber->received();
    delivered += received;
    const uint64_t short_by = received >= events ? 0 : events - received;
    drops += short_by;
    drops_max = std::max(drops_max, short_by);
    if (short_by > 0) ++subscribers_short;
    lagged_missed += subscriber->missed();
    lag_notices += subscriber->lag_notices();
    responses += subscriber->responses();
    gaps += subscriber->gaps();
    reordered += subscriber->reordered();
    malformed += subscriber->malformed();
    if (subscriber->finished()) ++disconnected;
    last_receive_ns = std::max(last_receive_ns, subscriber->last_receive_ns());
    latencies.insert(latencies.end(), subscriber->latencies().begin(),
                     subscriber->latencies().end());
  }
  std::sort(latencies.begin(), latencies.end());

  // W3: now let the stalled subscriber read what the daemon kept for it.
  uint64_t stalled_received = 0, stalled_missed = 0, stalled_notices = 0;
  uint64_t stalled_gaps = 0;
  bool stalled_disconnected = false;
  std::string stalled_status;
  if (clients.stalled) {
    StreamSubscriber& stalled = *clients.stalled;
    stalled_disconnected = stalled.finished();
    if (!stalled_disconnected) {
      stalled.StartReading();
      WaitFor(
          [&] {
            return stalled.finished() ||
                   stalled.received() + stalled.missed() >= events;
          },
          [&] { return stalled.received() + stalled.missed(); }, 2000, 15'000);
    }
    stalled_disconnected = stalled.finished();
    stalled_received = stalled.received();
    stalled_missed = stalled.missed();
    if (stalled_disconnected) {
      stalled_status =
          absl::StrCat(" (status ", stalled.status().error_code(), ": ",
                       stalled.status().error_message(), ")");
    } else {
      // Only read once the stream is quiet: counters of a live stream belong
      // to its completion thread.
      stalled_notices = stalled.lag_notices();
      stalled_gaps = stalled.gaps();
    }
  }
  const int lag_warnings = broker.CountLogLines("is lagging");

  const uint64_t acks_out_of_order = publisher->acks_out_of_order();
  const uint64_t publish_errors = publisher->errors();
  const std::string publish_error = publisher->first_error();
  publisher.reset();

  const double publish_s = (publish_end_ns - start_ns) / 1e9;
  const double delivered_s =
      last_receive_ns > start_ns ? (last_receive_ns - start_ns) / 1e9 : NAN;
  const int reported_subscribers = subscribers + (stalled_reader ? 1 : 0);

  JsonLine json;
  json.Str("system", "eventbus")
      .Str("workload", workload)
      .Str("overflow", OverflowFlag(options.overflow))
      .Int("subscribers", reported_subscribers)
      .Int("events", static_cast<int64_t>(events))
      .Num("publish_eps", events / publish_s, 0)
      .Num("delivered_eps", delivered / delivered_s, 0)
      .Int("drops", static_cast<int64_t>(drops));
  if (paced) {
    json.Num("p50_us", Percentile(latencies, 0.50))
        .Num("p99_us", Percentile(latencies, 0.99))
        .Num("p999_us", Percentile(latencies, 0.999))
        .Num("max_us", latencies.empty() ? NAN : latencies.back() / 1000.0);
  }
  json.Num("broker_rss_mb", memory_after.hwm_kb / 1024.0, 1)
      .Num("broker_cpu_s", broker_cpu_s, 2)
      .Int("drops_max_per_sub", static_cast<int64_t>(drops_max))
      .Int("subs_disconnected", disconnected)
      .Num("client_cpu_s", client_cpu_s, 2)
      .Num("host_other_cpu_s",
           (host_after.busy - host_before.busy) - broker_cpu_s - client_cpu_s,
           2);
  if (paced) {
    json.Num("pub_max_lag_us", max_publish_lag_ns / 1000.0, 1)
        .Int("pub_late_1ms", static_cast<int64_t>(late_1ms));
  }
  const double per_sub_kb =
      static_cast<double>(memory_subscribed.rss_kb - memory_before.rss_kb) /
      subscribers;
  if (workload == "W4") {
    json.Num("complete_ms", complete ? delivered_s * 1000 : NAN, 1)
        .Num("broker_rss_per_sub_kb", per_sub_kb, 2)
        .Int("streams", options.multiplexed ? connections : subscribers);
  }
  std::string stalled_outcome;
  if (stalled_reader) {
    stalled_outcome =
        stalled_disconnected ? "disconnected"
        : stalled_received + stalled_missed == events && stalled_missed > 0
            ? "told of loss"
        : stalled_received == events ? "buffered-all"
                                     : "partial";
    json.Int("stalled_received", static_cast<int64_t>(stalled_received))
        .Int("stalled_missed", static_cast<int64_t>(stalled_missed))
        .Int("stalled_lagged_notices", static_cast<int64_t>(stalled_notices))
        .Str("stalled_outcome", stalled_outcome);
  }
  json.Int("lagged_missed", static_cast<int64_t>(lagged_missed))
      .Int("unaccounted_gaps", static_cast<int64_t>(gaps))
      .Int("publish_reordered", static_cast<int64_t>(reordered))
      .Str("publish_rpc", stream_rpc ? "PublishStream" : "Publish")
      .Int("capacity", static_cast<int64_t>(options.capacity))
      .Int("event_bytes", static_cast<int64_t>(event_bytes));

  const std::string publish_path =
      stream_rpc
          ? absl::StrFormat(
                "one PublishStream call, up to %d events unacknowledged, "
                "writes flushed every %d events%s; acks %s",
                window, paced ? 1 : options.flush_every,
                paced ? "" : " or when the window fills",
                acks_out_of_order == 0
                    ? std::string("in order")
                    : absl::StrCat(acks_out_of_order, " OUT OF ORDER"))
          : absl::StrFormat(
                "unary Publish, asynchronous, up to %d calls in flight on one "
                "connection%s",
                window,
                window > 1 ? " (the bus orders events by arrival)" : "");
  std::string note = absl::StrFormat(
      "eventbusd (this tree), bus.capacity=%d. publish: %s. subs: %s "
      "via the generic ByteBuffer API, responses scanned in place (no "
      "message parsing), driven by %d completion-queue threads; "
      "grpc.http2.bdp_probe=%d. conns=%d%s. event %d bytes serialized.",
      options.capacity, publish_path,
      options.multiplexed
          ? absl::StrCat("SubscribeStream calls (one per connection, ",
                         subscribers / std::max(connections, 1),
                         " subscriptions each)")
          : std::string("Subscribe streams"),
      options.client_threads, options.bdp_probe ? 1 : 0, connections,
      stalled_reader ? " +1 stalled" : "", event_bytes);
  absl::StrAppendFormat(
      &note,
      " publish took %.3fs (%s); last delivery at %.3fs; completion: %s. "
      "%.1f events per response on average.",
      publish_s,
      publish_errors == 0
          ? std::string("ok")
          : absl::StrCat(publish_errors, " failed, first: ", publish_error),
      delivered_s,
      complete ? "all subscribers got or were told of every event"
               : "idle timeout (some events never arrived)",
      responses > 0 ? static_cast<double>(delivered) / responses : 0.0);
  if (drops > 0) {
    absl::StrAppendFormat(
        &note,
        " drops: %d total, %d/%d subs short, max %d on one sub; Lagged "
        "notices (%d) reported %d of them as lost, exact ranges.",
        drops, subscribers_short, subscribers, drops_max, lag_notices,
        lagged_missed);
  }
  if (gaps > 0 || malformed > 0) {
    absl::StrAppendFormat(&note,
                          " ERROR: %d sequence gaps no Lagged notice "
                          "covered, %d malformed responses.",
                          gaps, malformed);
  }
  if (reordered > 0) {
    absl::StrAppendFormat(&note,
                          " %d deliveries (over all subs) came in a different "
                          "order than published%s.",
                          reordered,
                          stream_rpc ? "" : " (concurrent unary calls)");
  }
  if (paced) {
    absl::StrAppendFormat(&note,
                          " pacing: %.0f/s target, max publisher lag %.0fus, "
                          "%d events >1ms late.",
                          options.rate, max_publish_lag_ns / 1000.0, late_1ms);
  }
  if (stalled_reader) {
    absl::StrAppendFormat(
        &note,
        " latency/drops are for the %d healthy subs. stalled sub (own "
        "connection, no read until the run ended): %s%s; afterwards it read "
        "%d events and Lagged notices (%d) covering %d, together %d of %d%s; "
        "the daemon logged %d lag warnings.",
        subscribers, stalled_outcome,
        stalled_disconnected ? " (stream ended)" + stalled_status
                             : " (stream still open)",
        stalled_received, stalled_notices, stalled_missed,
        stalled_received + stalled_missed, events,
        stalled_gaps > 0 ? absl::StrCat(", ", stalled_gaps, " UNCOVERED GAPS")
                         : std::string(),
        lag_warnings);
  }
  if (workload == "W4") {
    absl::StrAppendFormat(&note,
                          " broker RSS %.1fMB before subs, %.1fMB after %d "
                          "subs -> %.2f KB/sub.",
                          memory_before.rss_kb / 1024.0,
                          memory_subscribed.rss_kb / 1024.0, subscribers,
                          per_sub_kb);
  }
  json.Str("note", note);
  return json.Done();
}

}  // namespace eventbus::bench

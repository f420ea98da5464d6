// soak: a steady 5,000 events/s for 10 minutes (60 s quick) while
// subscribers join and leave; the daemon's RSS and CPU sampled every 5 s.
// After the warm-up (the first 20%), RSS may not grow by more than 10% or
// 4 MiB, whichever is larger; every subscriber's ledger stays exact.
#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/fault/checked_subscriber.h"
#include "tests/fault/scenarios.h"
#include "tests/fault/stream_publisher.h"
#include "tests/fault/subscriber_totals.h"

namespace eventbus::fault {
namespace {

constexpr double kRate = 5000;
constexpr uint64_t kCapacity = 4096;
constexpr int kSteadySubscribers = 4;
constexpr int kChurningSlots = 12;
// Each tick, this many churning subscribers leave and as many join.
constexpr int kChurnPerTick = 2;
constexpr absl::Duration kTick = absl::Seconds(1);
constexpr int kTicksPerSample = 5;
constexpr long kGrowthFloorKb = 4 * 1024;

}  // namespace

void RunSoak(const ScenarioOptions& options, ScenarioReport& report) {
  const absl::Duration duration = options.soak_duration();
  const absl::Time began = absl::Now();
  auto daemon = StartDaemon({"--capacity", absl::StrCat(kCapacity)});
  if (!report.Expect(daemon.ok(), daemon.status().ToString())) return;
  const pid_t pid = (*daemon)->pid();
  const std::string address = (*daemon)->address();
  const DaemonFigures before = ReadDaemonFigures(pid);

  std::mt19937_64 random(options.seed);
  SubscriberTotals totals;
  int joined = 0;
  auto subscribe = [&](uint64_t from_sequence) {
    SubscriberBehaviour behaviour;
    behaviour.from_sequence = from_sequence;
    behaviour.stall_chance = 0.01;
    behaviour.max_stall = absl::Milliseconds(200);
    auto subscriber = std::make_unique<CheckedSubscriber>(
        NewChannel(address), absl::StrCat("soak-", joined++), behaviour,
        random());
    report.Expect(subscriber->registered(),
                  absl::StrCat("soak-", joined - 1, " did not subscribe"));
    return subscriber;
  };
  auto leave = [&](std::unique_ptr<CheckedSubscriber> subscriber) {
    subscriber->Stop();
    const SubscriberOutcome outcome = subscriber->Join();
    // It left on its own: its ledger must be exact up to where it read.
    CheckOutcome(outcome, std::nullopt, /*daemon_may_end=*/false, report);
    totals.Add(outcome);
  };

  std::vector<std::unique_ptr<CheckedSubscriber>> steady;
  for (int i = 0; i < kSteadySubscribers; ++i) steady.push_back(subscribe(0));
  std::vector<std::unique_ptr<CheckedSubscriber>> churning;
  for (int i = 0; i < kChurningSlots; ++i) churning.push_back(subscribe(0));
  StreamPublisher publisher(NewChannel(address),
                            StreamPublisherOptions{.rate = kRate});

  const absl::Time soak_began = absl::Now();
  const absl::Time warm_at = soak_began + duration / 5;
  DaemonFigures previous = ReadDaemonFigures(pid);
  absl::Time previous_at = soak_began;
  long warm_rss_kb = -1;
  long max_rss_after_warm_kb = -1;
  std::vector<long> series;
  for (int tick = 1; absl::Now() < soak_began + duration; ++tick) {
    // Pacing of the churn: one tick per second.
    absl::SleepFor(std::max(absl::ZeroDuration(),
                            soak_began + kTick * tick - absl::Now()));
    for (int i = 0; i < kChurnPerTick; ++i) {
      const size_t slot = random() % churning.size();
      const uint64_t next = churning[slot]->next_sequence();
      leave(std::move(churning[slot]));
      // Half resume where a leaver stopped (or earlier, beyond the ring),
      // half start at the next event.
      const uint64_t back = random() % (2 * kCapacity);
      churning[slot] = subscribe(
          random() % 2 == 0 ? std::max<uint64_t>(1, next - std::min(next, back))
                            : 0);
    }
    if (tick % kTicksPerSample != 0) continue;
    const absl::Time now = absl::Now();
    const DaemonFigures figures = ReadDaemonFigures(pid);
    const double cpu_percent =
        100 * (figures.cpu_seconds - previous.cpu_seconds) /
        std::max(1e-9, absl::ToDoubleSeconds(now - previous_at));
    if (now >= warm_at) {
      if (warm_rss_kb < 0) warm_rss_kb = figures.rss_kb;
      max_rss_after_warm_kb = std::max(max_rss_after_warm_kb, figures.rss_kb);
    }
    series.push_back(figures.rss_kb);
    report.Emit(report.Line("sample")
                    .Num("t_s", absl::ToDoubleSeconds(now - soak_began), 1)
                    .Int("rss_kb", figures.rss_kb)
                    .Int("hwm_kb", figures.hwm_kb)
                    .Int("fds", figures.fds)
                    .Num("cpu_s", figures.cpu_seconds, 2)
                    .Num("cpu_pct", cpu_percent, 1)
                    .Int("acked", publisher.acked())
                    .Int("subscribers_joined", joined)
                    .Bool("warm", now >= warm_at));
    previous = figures;
    previous_at = now;
  }
  publisher.Stop();
  const StreamPublisherResult published = publisher.Join();
  const absl::Duration soak_time = absl::Now() - soak_began;
  report.Expect(
      published.status.ok(),
      absl::StrCat("the publisher ended with ", published.status.error_code(),
                   " ", published.status.error_message()));
  const double rate =
      published.acked / std::max(1e-9, absl::ToDoubleSeconds(soak_time));
  // A figure, not a property: on a loaded machine pacing may fall behind.
  if (rate < 0.9 * kRate) {
    report.Progress("published %.0f events/s, below the %.0f aimed at", rate,
                    kRate);
  }

  auto stub = v1::EventBusService::NewStub(NewChannel(address));
  absl::StatusOr<uint64_t> last = PublishMarker(*stub);
  if (!report.Expect(last.ok(), last.status().ToString())) return;
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  for (auto& subscriber : steady) {
    subscriber->FinishAt(*last);
    if (!subscriber->AwaitDone(deadline)) {
      report.Fail("a steady subscriber did not reach the last sequence");
    }
    subscriber->Stop();
    const SubscriberOutcome outcome = subscriber->Join();
    CheckOutcome(outcome, *last, /*daemon_may_end=*/false, report);
    totals.Add(outcome);
  }
  for (auto& subscriber : churning) leave(std::move(subscriber));

  const long growth_kb = max_rss_after_warm_kb - warm_rss_kb;
  const long bound_kb = std::max(kGrowthFloorKb, warm_rss_kb / 10);
  report.Expect(warm_rss_kb > 0, "no RSS sample after the warm-up");
  report.Expect(
      growth_kb <= bound_kb,
      absl::StrCat("RSS grew by ", growth_kb, " kB after the warm-up (from ",
                   warm_rss_kb, " kB), bound ", bound_kb, " kB"));
  const DaemonFigures after = ReadDaemonFigures(pid);
  bench::JsonLine line = report.Line("totals");
  line.Num("soak_s", absl::ToDoubleSeconds(soak_time), 1)
      .Int("acked", published.acked)
      .Num("rate_per_s", rate, 0)
      .Int("last_sequence", *last)
      .Int("subscribers_joined", joined);
  totals.AddTo(line);
  std::string rss_series;
  for (long rss : series)
    absl::StrAppend(&rss_series, rss_series.empty() ? "" : ",", rss);
  line.Int("rss_before_kb", before.rss_kb)
      .Int("rss_warm_kb", warm_rss_kb)
      .Int("rss_max_after_warm_kb", max_rss_after_warm_kb)
      .Int("rss_growth_kb", growth_kb)
      .Int("rss_growth_bound_kb", bound_kb)
      .Int("rss_peak_kb", after.hwm_kb)
      .Int("rss_after_kb", after.rss_kb)
      .Str("rss_series_kb", rss_series)
      .Num("daemon_cpu_s", after.cpu_seconds - before.cpu_seconds, 2)
      .Num("daemon_cpu_pct",
           100 * (after.cpu_seconds - before.cpu_seconds) /
               std::max(1e-9, absl::ToDoubleSeconds(soak_time)),
           1)
      .Num("duration_s", absl::ToDoubleSeconds(absl::Now() - began), 1);
  report.Emit(line);
}

}  // namespace eventbus::fault

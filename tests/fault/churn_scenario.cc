// churn: 64 subscribers, some stalling at random (so that they lag and get
// Lagged notices), some cancelling and resuming with from_sequence, while
// several PublishStreams publish 1,000,000 events. For each subscriber:
// received + missed = published over its span, no duplicate, no reordering.
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/fault/checked_subscriber.h"
#include "tests/fault/scenarios.h"
#include "tests/fault/stream_publisher.h"
#include "tests/fault/subscriber_totals.h"

namespace eventbus::fault {
namespace {

constexpr int kSubscribers = 64;
constexpr int kPublishers = 4;
constexpr uint64_t kCapacity = 4096;

// Subscriber i: steady (i % 4 == 0), stalling (1), resuming (2), or both (3).
SubscriberBehaviour Behaviour(int i) {
  SubscriberBehaviour behaviour;
  if (i % 4 == 1 || i % 4 == 3) {
    behaviour.stall_chance = 0.01;
    behaviour.max_stall = absl::Milliseconds(300);
  }
  if (i % 4 == 2 || i % 4 == 3) behaviour.resume_chance = 0.005;
  return behaviour;
}

}  // namespace

void RunChurn(const ScenarioOptions& options, ScenarioReport& report) {
  const uint64_t events = options.churn_events > 0 ? options.churn_events
                          : options.quick          ? 200'000
                                                   : 1'000'000;
  const absl::Time began = absl::Now();
  auto daemon = StartDaemon({"--capacity", absl::StrCat(kCapacity)});
  if (!report.Expect(daemon.ok(), daemon.status().ToString())) return;
  const pid_t pid = (*daemon)->pid();
  const std::string address = (*daemon)->address();
  const DaemonFigures before = ReadDaemonFigures(pid);

  std::mt19937_64 random(options.seed);
  std::vector<std::unique_ptr<CheckedSubscriber>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    subscribers.push_back(std::make_unique<CheckedSubscriber>(
        NewChannel(address), absl::StrCat("churn-", i), Behaviour(i),
        random()));
    if (!report.Expect(subscribers.back()->registered(),
                       absl::StrCat("churn-", i, " did not subscribe"))) {
      return;
    }
  }
  report.Progress(
      "%d subscribers registered; publishing %d events on %d "
      "PublishStreams",
      kSubscribers, events, kPublishers);

  const absl::Time publish_began = absl::Now();
  std::vector<std::unique_ptr<StreamPublisher>> publishers;
  for (int i = 0; i < kPublishers; ++i) {
    const uint64_t share =
        events / kPublishers + (i == 0 ? events % kPublishers : 0);
    publishers.push_back(std::make_unique<StreamPublisher>(
        NewChannel(address), StreamPublisherOptions{.count = share}));
  }
  absl::Notification published;
  std::vector<StreamPublisherResult> results;
  std::thread joiner([&] {
    for (auto& publisher : publishers) results.push_back(publisher->Join());
    published.Notify();
  });
  while (!published.WaitForNotificationWithTimeout(absl::Seconds(2))) {
    uint64_t acked = 0;
    for (auto& publisher : publishers) acked += publisher->acked();
    uint64_t slowest = UINT64_MAX;
    for (auto& subscriber : subscribers) {
      slowest = std::min(slowest, subscriber->next_sequence());
    }
    report.Progress("acked %d of %d; slowest subscriber at %d", acked, events,
                    slowest);
  }
  joiner.join();
  const absl::Duration publish_time = absl::Now() - publish_began;
  uint64_t acked = 0;
  for (const StreamPublisherResult& result : results) {
    acked += result.acked;
    report.Expect(
        result.status.ok(),
        absl::StrCat("PublishStream ended with ", result.status.error_code(),
                     " ", result.status.error_message()));
    report.Expect(result.out_of_order_acks == 0,
                  absl::StrCat(result.out_of_order_acks,
                               " acknowledgements out of order"));
  }
  report.Expect(acked == events,
                absl::StrCat("acknowledged ", acked, " of ", events));

  // The marker is the last event: everything before it is all there is.
  auto stub = v1::EventBusService::NewStub(NewChannel(address));
  absl::StatusOr<uint64_t> last = PublishMarker(*stub);
  if (!report.Expect(last.ok(), last.status().ToString())) return;
  report.Expect(*last == events + 1,
                absl::StrCat("the marker got sequence ", *last, ", expected ",
                             events + 1));
  const absl::Time deadline = absl::Now() + absl::Minutes(3);
  for (auto& subscriber : subscribers) subscriber->FinishAt(*last);
  SubscriberTotals totals;
  for (auto& subscriber : subscribers) {
    if (!subscriber->AwaitDone(deadline)) {
      report.Fail(absl::StrCat("a subscriber did not reach sequence ", *last,
                               " in time (at ", subscriber->next_sequence(),
                               ")"));
      subscriber->Stop();
    }
    const SubscriberOutcome outcome = subscriber->Join();
    CheckOutcome(outcome, *last, /*daemon_may_end=*/false, report);
    totals.Add(outcome);
    const SequenceLedger* ledger = outcome.ledger ? &*outcome.ledger : nullptr;
    report.Emit(report.Line("subscriber")
                    .Str("name", outcome.name)
                    .Int("start", ledger ? ledger->start() : 0)
                    .Int("received", ledger ? ledger->received() : 0)
                    .Int("missed", ledger ? ledger->missed() : 0)
                    .Int("lag_notices", ledger ? ledger->lag_notices() : 0)
                    .Int("stalls", outcome.stalls)
                    .Int("resumes", outcome.resumes)
                    .Int("violations", ledger ? ledger->violation_count() : 0));
  }
  subscribers.clear();
  const DaemonFigures after = ReadDaemonFigures(pid);
  bench::JsonLine line = report.Line("totals");
  line.Int("events", events)
      .Int("publishers", kPublishers)
      .Int("acked", acked)
      .Int("last_sequence", *last)
      .Int("capacity", kCapacity)
      .Num("publish_s", absl::ToDoubleSeconds(publish_time), 2)
      .Num("publish_rate_per_s",
           events / std::max(1e-9, absl::ToDoubleSeconds(publish_time)), 0);
  totals.AddTo(line);
  line.Int("rss_before_kb", before.rss_kb)
      .Int("rss_peak_kb", after.hwm_kb)
      .Int("rss_after_kb", after.rss_kb)
      .Int("fds_before", before.fds)
      .Int("fds_after", after.fds)
      .Num("daemon_cpu_s", after.cpu_seconds - before.cpu_seconds, 2)
      .Num("duration_s", absl::ToDoubleSeconds(absl::Now() - began), 1);
  report.Emit(line);
  report.Expect(totals.lagging_subscribers > 0,
                "no subscriber lagged: the scenario did not exercise lag");
  report.Expect(totals.resumes > 0, "no subscriber resumed");
}

}  // namespace eventbus::fault

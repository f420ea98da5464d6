// churn: 64 subscribers, some stalling at random (so that they lag and get
// Lagged notices), some cancelling and resuming with from_sequence, and 8
// with overflow BLOCK, half of them stalling too (for far less than
// bus.max_block), while several PublishStreams publish 1,000,000 events. For
// each subscriber: received + missed = published over its span, no
// duplicate, no reordering; for each BLOCK subscriber: nothing missed and
// its stream never ended by the daemon (the publishers waited instead).
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
constexpr int kBlockSubscribers = 8;
constexpr int kPublishers = 4;
constexpr uint64_t kCapacity = 4096;
constexpr char kMaxBlock[] = "10s";

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

// BLOCK subscriber i: steady (even) or stalling (odd), never resuming (a
// resume leaves the bus for a moment, and may then lose events).
SubscriberBehaviour BlockBehaviour(int i) {
  SubscriberBehaviour behaviour;
  behaviour.overflow = v1::OVERFLOW_BLOCK;
  if (i % 2 == 1) {
    behaviour.stall_chance = 0.001;
    behaviour.max_stall = absl::Milliseconds(300);
  }
  return behaviour;
}

}  // namespace

void RunChurn(const ScenarioOptions& options, ScenarioReport& report) {
  const uint64_t events = options.churn_events > 0 ? options.churn_events
                          : options.quick          ? 200'000
                                                   : 1'000'000;
  const absl::Time began = absl::Now();
  // The BLOCK subscribers' stalls overlap (each holds the ring while the
  // others catch up behind it), and on 2 busy cores a stalled reader takes
  // a while to drain its window: kMaxBlock is well above what that adds up
  // to, so a daemon that ends a BLOCK stream here lost a wake-up.
  auto daemon = StartDaemon(
      {"--capacity", absl::StrCat(kCapacity), "--max-block", kMaxBlock});
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
  for (int i = 0; i < kBlockSubscribers; ++i) {
    subscribers.push_back(std::make_unique<CheckedSubscriber>(
        NewChannel(address), absl::StrCat("churn-block-", i), BlockBehaviour(i),
        random()));
    if (!report.Expect(subscribers.back()->registered(),
                       absl::StrCat("churn-block-", i, " did not subscribe"))) {
      return;
    }
  }
  report.Progress(
      "%d subscribers (%d BLOCK) registered; publishing %d events on %d "
      "PublishStreams",
      kSubscribers + kBlockSubscribers, kBlockSubscribers, events, kPublishers);

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
  uint64_t block_received = 0;
  uint64_t block_stalls = 0;
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
    if (ledger != nullptr && outcome.name.starts_with("churn-block-")) {
      report.Expect(ledger->missed() == 0,
                    absl::StrCat(outcome.name, " (BLOCK) missed ",
                                 ledger->missed(), " events"));
      block_received += ledger->received();
      block_stalls += outcome.stalls;
    }
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
  line.Int("block_subscribers", kBlockSubscribers)
      .Int("block_received", block_received)
      .Int("block_stalls", block_stalls);
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
  report.Expect(block_stalls > 0,
                "no BLOCK subscriber stalled: the scenario did not hold "
                "publishers back");
  ShowDaemonLogOnFailure(**daemon, report);
}

}  // namespace eventbus::fault

#include "tests/fault/subscriber_totals.h"

#include "absl/strings/str_cat.h"

namespace eventbus::fault {

void CheckOutcome(const SubscriberOutcome& outcome,
                  std::optional<uint64_t> last, bool daemon_may_end,
                  ScenarioReport& report) {
  report.Expect(outcome.open_error.empty(),
                absl::StrCat(outcome.name, ": ", outcome.open_error));
  if (!outcome.ledger) {
    report.Fail(absl::StrCat(outcome.name, ": never subscribed"));
    return;
  }
  SequenceLedger ledger = *outcome.ledger;
  if (last) ledger.CheckCovers(*last);
  for (const std::string& violation : ledger.violations()) {
    report.Fail(absl::StrCat(outcome.name, ": ", violation));
  }
  if (ledger.violation_count() > ledger.violations().size()) {
    report.Fail(
        absl::StrCat(outcome.name, ": ... ",
                     ledger.violation_count() - ledger.violations().size(),
                     " more ledger violations"));
  }
  report.Expect(
      daemon_may_end || outcome.daemon_ends == 0,
      absl::StrCat(outcome.name, ": the daemon ended ", outcome.daemon_ends,
                   " of its streams, last with ", outcome.last_end.error_code(),
                   " ", outcome.last_end.error_message()));
}

void SubscriberTotals::Add(const SubscriberOutcome& outcome) {
  ++subscribers;
  stalls += outcome.stalls;
  resumes += outcome.resumes;
  daemon_ends += outcome.daemon_ends;
  if (!outcome.ledger) return;
  const SequenceLedger& ledger = *outcome.ledger;
  received += ledger.received();
  missed += ledger.missed();
  lag_notices += ledger.lag_notices();
  lagging_subscribers += ledger.lag_notices() > 0;
  duplicates_or_reorders += ledger.duplicates_or_reorders();
  gaps += ledger.gaps();
  ledger_violations += ledger.violation_count();
}

void SubscriberTotals::AddTo(bench::JsonLine& line) const {
  line.Int("subscribers", subscribers)
      .Int("received", received)
      .Int("missed", missed)
      .Int("lag_notices", lag_notices)
      .Int("lagging_subscribers", lagging_subscribers)
      .Int("stalls", stalls)
      .Int("resumes", resumes)
      .Int("duplicates_or_reorders", duplicates_or_reorders)
      .Int("silent_gaps", gaps)
      .Int("ledger_violations", ledger_violations)
      .Int("streams_ended_by_daemon", daemon_ends);
}

}  // namespace eventbus::fault

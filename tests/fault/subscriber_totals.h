// SubscriberTotals: the figures of many CheckedSubscribers added up, and the
// check of one subscriber's outcome against the bus's promise.
// Not thread-safe: the scenario's thread adds outcomes after joining.
#ifndef EVENTBUS_TESTS_FAULT_SUBSCRIBER_TOTALS_H_
#define EVENTBUS_TESTS_FAULT_SUBSCRIBER_TOTALS_H_

#include <cstdint>
#include <optional>

#include "bench/json_line.h"
#include "tests/fault/checked_subscriber.h"
#include "tests/fault/scenario.h"

namespace eventbus::fault {

// Records in `report` every violation of `outcome`: a stream that did not
// open or resume where asked, a ledger violation, a ledger that does not
// cover [start, last] (when `last` is known), and a stream the daemon ended
// (unless `daemon_may_end`).
void CheckOutcome(const SubscriberOutcome& outcome,
                  std::optional<uint64_t> last, bool daemon_may_end,
                  ScenarioReport& report);

struct SubscriberTotals {
  void Add(const SubscriberOutcome& outcome);
  // Adds the totals to `line` as subscribers, received, missed, ...
  void AddTo(bench::JsonLine& line) const;

  int64_t subscribers = 0;
  uint64_t received = 0;
  uint64_t missed = 0;
  uint64_t lag_notices = 0;
  uint64_t lagging_subscribers = 0;
  uint64_t stalls = 0;
  uint64_t resumes = 0;
  uint64_t duplicates_or_reorders = 0;
  uint64_t gaps = 0;
  uint64_t ledger_violations = 0;
  uint64_t daemon_ends = 0;
};

}  // namespace eventbus::fault

#endif  // EVENTBUS_TESTS_FAULT_SUBSCRIBER_TOTALS_H_

// SequenceLedger: one subscriber's account of the bus, checked against the
// bus's promise. From where the subscriber started, every sequence number is
// either received exactly once or reported lost by a Lagged range, in
// ascending order, with nothing skipped silently. Resuming streams
// (from_sequence = next()) continue the same ledger.
//
// Not thread-safe: one subscriber owns it (or guards it with its own lock).
#ifndef EVENTBUS_TESTS_FAULT_SEQUENCE_LEDGER_H_
#define EVENTBUS_TESTS_FAULT_SEQUENCE_LEDGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "eventbus/v1/eventbus.pb.h"

namespace eventbus::fault {

class SequenceLedger {
 public:
  // The subscriber's first stream starts at `start` (its
  // eventbus-start-sequence header).
  explicit SequenceLedger(uint64_t start) : start_(start), next_(start) {}

  // Accounts one response: its Lagged range first, then its events. A lag
  // range that does not begin at next(), an event below next() (a duplicate
  // or a reordering) or above it (a silent gap) is recorded as a violation;
  // the ledger then continues after it.
  void Apply(const v1::SubscribeResponse& response);

  // Checks that the ledger covers exactly [start, last]: received + missed
  // equals the events published over the span. Records a violation if not.
  void CheckCovers(uint64_t last);

  uint64_t start() const { return start_; }
  // The next sequence the subscriber expects.
  uint64_t next() const { return next_; }
  uint64_t received() const { return received_; }
  uint64_t missed() const { return missed_; }
  uint64_t lag_notices() const { return lag_notices_; }
  uint64_t duplicates_or_reorders() const { return backwards_; }
  uint64_t gaps() const { return gaps_; }
  // Every violation counted; descriptions of the first few.
  uint64_t violation_count() const { return violation_count_; }
  const std::vector<std::string>& violations() const { return violations_; }

 private:
  void Violation(std::string what);

  uint64_t start_;
  uint64_t next_;
  uint64_t received_ = 0;
  uint64_t missed_ = 0;
  uint64_t lag_notices_ = 0;
  uint64_t backwards_ = 0;
  uint64_t gaps_ = 0;
  uint64_t violation_count_ = 0;
  std::vector<std::string> violations_;
};

}  // namespace eventbus::fault

#endif  // EVENTBUS_TESTS_FAULT_SEQUENCE_LEDGER_H_

#include "tests/fault/sequence_ledger.h"

#include "absl/strings/str_cat.h"

namespace eventbus::fault {
namespace {

constexpr size_t kViolationsKept = 8;

}  // namespace

void SequenceLedger::Violation(std::string what) {
  ++violation_count_;
  if (violations_.size() < kViolationsKept) {
    violations_.push_back(std::move(what));
  }
}

void SequenceLedger::Apply(const v1::SubscribeResponse& response) {
  if (response.has_lagged()) {
    const v1::Lagged& lag = response.lagged();
    ++lag_notices_;
    if (lag.first_sequence() != next_ || lag.last_sequence() < next_ ||
        lag.missed() != lag.last_sequence() - lag.first_sequence() + 1) {
      Violation(absl::StrCat("lagged {missed ", lag.missed(), ", ",
                             lag.first_sequence(), "..", lag.last_sequence(),
                             "} while expecting sequence ", next_));
    }
    if (lag.last_sequence() >= next_) {
      missed_ += lag.last_sequence() - next_ + 1;
      next_ = lag.last_sequence() + 1;
    }
  }
  for (const v1::Event& event : response.events()) {
    const uint64_t sequence = event.sequence();
    if (sequence < next_) {
      ++backwards_;
      Violation(absl::StrCat("sequence ", sequence, " after ", next_ - 1,
                             " (duplicate or reordered)"));
      continue;
    }
    if (sequence > next_) {
      ++gaps_;
      Violation(absl::StrCat("sequence ", sequence, " while expecting ", next_,
                             ": ", sequence - next_,
                             " events lost without a Lagged notice"));
    }
    ++received_;
    next_ = sequence + 1;
  }
}

void SequenceLedger::CheckCovers(uint64_t last) {
  const uint64_t span = last + 1 - start_;
  if (next_ != last + 1 || received_ + missed_ != span) {
    Violation(absl::StrCat("over sequences ", start_, "..", last, " (", span,
                           " events): received ", received_, " + missed ",
                           missed_, " = ", received_ + missed_,
                           ", next expected ", next_));
  }
}

}  // namespace eventbus::fault

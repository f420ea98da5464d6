// The fault and load scenarios of eventbus_fault. Each starts its own
// eventbusd, prints its figures through `report` and records every violated
// property there; none throws or exits.
#ifndef EVENTBUS_TESTS_FAULT_SCENARIOS_H_
#define EVENTBUS_TESTS_FAULT_SCENARIOS_H_

#include "tests/fault/scenario.h"

namespace eventbus::fault {

// 64 subscribers (some stalling, some cancelling and resuming) while
// several PublishStreams publish 1,000,000 events (200,000 quick): exact
// accounting per subscriber.
void RunChurn(const ScenarioOptions& options, ScenarioReport& report);

// Client processes SIGKILLed mid-stream 1,000 times (200 quick), half-open
// connections, a peer that never reads: the daemon's memory and fds come
// back, healthy subscribers lose nothing unreported and stay connected.
void RunKill(const ScenarioOptions& options, ScenarioReport& report);

// SIGTERM under full-rate publishing: every acknowledged event reaches every
// subscriber, whose streams end with OK.
void RunDrain(const ScenarioOptions& options, ScenarioReport& report);

// 5,000 events/s for 10 minutes (60 s quick) with subscriber churn: RSS
// stays flat after warm-up.
void RunSoak(const ScenarioOptions& options, ScenarioReport& report);

// eventbusd with a durable log SIGKILLed 100 times (20 quick) under
// publishing load, in every storage.fsync mode: no acknowledged event is
// lost or changed, numbering goes on without a gap.
void RunCrash(const ScenarioOptions& options, ScenarioReport& report);

}  // namespace eventbus::fault

#endif  // EVENTBUS_TESTS_FAULT_SCENARIOS_H_

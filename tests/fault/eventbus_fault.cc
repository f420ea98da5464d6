// eventbus_fault [--quick] [--seed N] [--soak-seconds N] [--churn-events N]
// [SCENARIO...]:
// the fault and load scenarios (churn, kill, drain, crash, soak; all by
// default), each against its own real eventbusd on a free loopback port.
// Figures are JSON lines on stdout, progress goes to stderr. Exit status 0 when
// every property held, 1 when one was violated, 2 on bad usage, 3 when a
// scenario overran its time bound.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/fault/scenarios.h"

namespace {

using eventbus::fault::ScenarioOptions;
using eventbus::fault::ScenarioReport;

struct Scenario {
  const char* name;
  void (*run)(const ScenarioOptions&, ScenarioReport&);
  // Time bound of the whole scenario, beyond which the run is aborted.
  absl::Duration (*bound)(const ScenarioOptions&);
};

const Scenario kScenarios[] = {
    {"churn", eventbus::fault::RunChurn,
     [](const ScenarioOptions& o) { return absl::Minutes(o.quick ? 6 : 20); }},
    {"kill", eventbus::fault::RunKill,
     [](const ScenarioOptions& o) { return absl::Minutes(o.quick ? 6 : 20); }},
    {"drain", eventbus::fault::RunDrain,
     [](const ScenarioOptions&) { return absl::Minutes(8); }},
    {"crash", eventbus::fault::RunCrash,
     [](const ScenarioOptions& o) { return absl::Minutes(o.quick ? 5 : 15); }},
    {"soak", eventbus::fault::RunSoak,
     [](const ScenarioOptions& o) {
       return o.soak_duration() + absl::Minutes(5);
     }},
};

int Usage() {
  std::fprintf(stderr,
               "usage: eventbus_fault [--quick] [--seed N] [--soak-seconds N] "
               "[--churn-events N] [churn|kill|drain|crash|soak]...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  ScenarioOptions options;
  options.seed = std::random_device()();
  std::vector<const Scenario*> selected;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--seed" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &options.seed)) return Usage();
    } else if (arg == "--soak-seconds" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &options.soak_seconds)) return Usage();
    } else if (arg == "--churn-events" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &options.churn_events)) return Usage();
    } else {
      const Scenario* found = nullptr;
      for (const Scenario& s : kScenarios) {
        if (arg == s.name) found = &s;
      }
      if (found == nullptr) return Usage();
      selected.push_back(found);
    }
  }
  if (selected.empty()) {
    for (const Scenario& s : kScenarios) selected.push_back(&s);
  }
  signal(SIGPIPE, SIG_IGN);
  std::fprintf(stderr, "eventbus_fault: seed %llu%s\n",
               static_cast<unsigned long long>(options.seed),
               options.quick ? ", quick" : "");

  std::vector<std::string> passed, failed;
  const absl::Time began = absl::Now();
  for (const Scenario* scenario : selected) {
    ScenarioReport report(scenario->name);
    ScenarioOptions scenario_options = options;
    const absl::Duration bound = scenario->bound(options);
    absl::Notification finished;
    // A scenario that hangs ends the run: its daemon is killed, the client
    // processes die with this one (PR_SET_PDEATHSIG).
    std::thread watchdog([&] {
      if (finished.WaitForNotificationWithTimeout(bound)) return;
      std::printf(
          "{\"scenario\": \"%s\", \"kind\": \"result\", \"ok\": false, "
          "\"error\": \"overran its bound of %s\"}\n",
          scenario->name, absl::FormatDuration(bound).c_str());
      std::fflush(stdout);
      if (const pid_t daemon = eventbus::fault::CurrentDaemonPid();
          daemon > 0) {
        kill(daemon, SIGKILL);
      }
      _exit(3);
    });
    const absl::Time start = absl::Now();
    report.Progress("start (seed %d)", options.seed);
    scenario->run(scenario_options, report);
    finished.Notify();
    watchdog.join();
    const std::vector<std::string> failures = report.failures();
    report.Emit(
        report.Line("result")
            .Bool("ok", failures.empty())
            .Num("duration_s", absl::ToDoubleSeconds(absl::Now() - start), 1)
            .Str("violations", absl::StrJoin(failures, " | ")));
    (failures.empty() ? passed : failed).push_back(scenario->name);
  }
  std::printf(
      "{\"kind\": \"summary\", \"quick\": %s, \"seed\": %llu, \"passed\": "
      "\"%s\", \"failed\": \"%s\", \"duration_s\": %.1f}\n",
      options.quick ? "true" : "false",
      static_cast<unsigned long long>(options.seed),
      absl::StrJoin(passed, ",").c_str(), absl::StrJoin(failed, ",").c_str(),
      absl::ToDoubleSeconds(absl::Now() - began));
  std::fflush(stdout);
  return failed.empty() ? 0 : 1;
}

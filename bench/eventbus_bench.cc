// eventbus-bench: the workloads of ../shared/bench/WORKLOADS.md for the
// eventbus, one JSON line per (workload, S) on stdout, progress on stderr.
//
//   eventbus-bench [--workloads W0,W1,W2,W3,W4,W5,W6] [--subscribers 1,16,...]
//                  [--quick] [options]
//
// W0 runs the in-process core (core_workload.h); W1-W4 start a fresh
// eventbusd per case (grpc_workloads.h); W5 and W6 one with a durable log
// (durable_workloads.h), W5 after the raw write + fdatasync loops that show
// the disk's own limit. --subscribers sets the S sweep of W0
// and W1 (W2/W3 have S = 16 and W4 S = 1,000, as WORKLOADS.md fixes them).
// --quick: W1 N = 20,000, W2/W3 2 s, W5 N = 10,000 and W6 N = 100,000, as
// ../shared/peers/run --quick, and W0 N = 200,000 (scripts/bench-compare runs
// the tokio anchor likewise).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/core_workload.h"
#include "bench/durable_workloads.h"
#include "bench/grpc_workloads.h"
#include "bench/proc_stats.h"

namespace {

constexpr char kUsage[] =
    R"(usage: eventbus-bench [--workloads W0,W1,W2,W3,W4,W5,W6]
                      [--subscribers LIST] [--quick] [options]

JSON lines on stdout (one per workload and S), progress on stderr.

  --workloads LIST        workloads to run (default W0,W1,W2,W3,W4; W5 and
                          W6, the durable log, only when named)
  --subscribers LIST      S values of W0 and W1 (default W0 1,4,16,64;
                          W1 1,16,64)
  --quick                 W1 N=20,000, W2/W3 2 s, W5 N=10,000, W6
                          N=100,000 (as peers/run --quick),
                          W0 N=200,000 (run the tokio anchor with
                          EVENTS=200000 to compare)
  --w0-events N           W0 events (default 1,000,000)
  --w0-workers N          W0 receiver threads besides the sender's
                          (default 1: 2 threads in all, as the anchor)
  --events N              W1 events (default 200,000)
  --w2-secs S, --w3-secs S  paced run length (default 10)
  --rate R                W2/W3 events per second (default 5,000)
  --w4-subscribers N      W4 subscribers (default 1,000)
  --w4-connections N      W4 client connections (default 10)
  --w4-events N           W4 events (default 1,000)
  --multiplexed           W4: the subscriptions share one SubscribeStream per
                          connection instead of one Subscribe stream each
  --capacity N            eventbusd bus.capacity for W1-W4 (default 1024)
  --publish-rpc stream|unary  PublishStream with a window (default) or
                          asynchronous unary Publish calls
  --publish-window N      W1/W4: events unacknowledged on the stream, or unary
                          calls in flight (default 1024)
  --flush-every N         W1/W4: events per PublishStream request
                          (default 64; 1: one request per event)
  --overflow POLICY       W1-W4 healthy subscribers' overflow: drop-oldest
                          (default), block (lossless: publishers wait) or
                          disconnect
  --bdp-probe 0|1         grpc.http2.bdp_probe on subscriber channels
                          (default 0)
  --client-threads N      completion-queue threads for subscribers (default 2)
  --quiet-max-s N         wait up to N s for a quiet host before each case
                          (default 20, 2 with --quick; 0 disables)
  --w5-events N           W5 events (default 100,000)
  --w5-window N           W5 events unacknowledged at once (default 256)
  --w6-events N           W6 events filled and replayed (default 1,000,000)
  --w6-window N           W6 fill window (default 4096)
  --fsync MODE            W5/W6 eventbusd storage.fsync (default always)
  --data-dir DIR          W5/W6 data parent directory, a real disk (default
                          $TMPDIR, else /tmp)
  --nats-server PATH      W5F/W2F nats-server binary (default
                          /usr/sbin/nats-server)

W5F and W2F are W5 and W2 with forward.nats on, into a nats-server -js
started for the case: the backlog (eventbus_forward_behind_events), the
forward rate and the forward lag (publish_time to JetStream's store time).
)";

struct Flags {
  std::map<std::string, std::string> values;

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback) const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
  int64_t Int(const std::string& name, int64_t fallback) const {
    int64_t value;
    auto it = values.find(name);
    if (it == values.end()) return fallback;
    if (!absl::SimpleAtoi(it->second, &value)) {
      std::fprintf(stderr, "eventbus-bench: --%s: not an integer: %s\n",
                   name.c_str(), it->second.c_str());
      std::exit(2);
    }
    return value;
  }
  double Double(const std::string& name, double fallback) const {
    double value;
    auto it = values.find(name);
    if (it == values.end()) return fallback;
    if (!absl::SimpleAtod(it->second, &value)) {
      std::fprintf(stderr, "eventbus-bench: --%s: not a number: %s\n",
                   name.c_str(), it->second.c_str());
      std::exit(2);
    }
    return value;
  }
  std::vector<int> IntList(const std::string& name,
                           std::vector<int> fallback) const {
    if (!Has(name)) return fallback;
    std::vector<int> list;
    for (absl::string_view item :
         absl::StrSplit(Get(name, ""), ',', absl::SkipEmpty())) {
      int value;
      if (!absl::SimpleAtoi(item, &value) || value < 1) {
        std::fprintf(stderr, "eventbus-bench: --%s: bad value %s\n",
                     name.c_str(), std::string(item).c_str());
        std::exit(2);
      }
      list.push_back(value);
    }
    return list;
  }
};

Flags ParseFlags(int argc, char** argv) {
  static const char* const kSwitches[] = {"quick", "multiplexed", "help"};
  static const char* const kKnown[] = {"workloads",
                                       "subscribers",
                                       "quick",
                                       "w0-events",
                                       "nats-server",
                                       "w0-workers",
                                       "events",
                                       "w2-secs",
                                       "w3-secs",
                                       "rate",
                                       "w4-subscribers",
                                       "w4-connections",
                                       "w4-events",
                                       "capacity",
                                       "publish-window",
                                       "bdp-probe",
                                       "client-threads",
                                       "publish-rpc",
                                       "flush-every",
                                       "quiet-max-s",
                                       "overflow",
                                       "w5-events",
                                       "w5-window",
                                       "w6-events",
                                       "w6-window",
                                       "fsync",
                                       "data-dir",
                                       "multiplexed",
                                       "help"};
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = std::string(argv[i]) == "-h" ? "--help" : argv[i];
    if (arg.rfind("--", 0) != 0) {
      std::fprintf(stderr, "eventbus-bench: unexpected argument %s\n%s",
                   arg.c_str(), kUsage);
      std::exit(2);
    }
    arg = arg.substr(2);
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    bool known = false;
    for (const char* candidate : kKnown) known |= name == candidate;
    if (!known) {
      std::fprintf(stderr, "eventbus-bench: unknown flag --%s\n%s",
                   name.c_str(), kUsage);
      std::exit(2);
    }
    if (equals != std::string::npos) {
      flags.values[name] = arg.substr(equals + 1);
      continue;
    }
    bool is_switch = false;
    for (const char* candidate : kSwitches) is_switch |= arg == candidate;
    if (is_switch) {
      flags.values.insert_or_assign(arg, std::string("1"));
    } else if (i + 1 < argc) {
      flags.values[arg] = argv[++i];
    } else {
      std::fprintf(stderr, "eventbus-bench: --%s needs a value\n", arg.c_str());
      std::exit(2);
    }
  }
  return flags;
}

void Emit(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  if (flags.Has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // Debian's Abseil is built with mutex deadlock detection on, and gRPC
  // locks absl::Mutex on every call: a graph update per lock that cost this
  // client about a fifth of its CPU per unary Publish. Clients are measured
  // lean (as the peers' are), so it is off here.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // W4 holds 1,000+ sockets.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  const bool quick = flags.Has("quick");
  const std::vector<std::string> workloads = absl::StrSplit(
      flags.Get("workloads", "W0,W1,W2,W3,W4"), ',', absl::SkipEmpty());
  const int quiet_max_s =
      static_cast<int>(flags.Int("quiet-max-s", quick ? 2 : 20));
  auto wait_quiet = [&](const std::string& what) {
    if (quiet_max_s <= 0) return;
    const double busy = eventbus::bench::WaitForQuietHost(0.10, quiet_max_s);
    if (busy >= 0.10) {
      std::fprintf(stderr,
                   "[eventbus-bench] host still %.0f%% busy after %d s; "
                   "running %s anyway\n",
                   busy * 100, quiet_max_s, what.c_str());
    }
  };

  eventbus::bench::GrpcWorkloadOptions base;
  base.capacity = static_cast<uint64_t>(flags.Int("capacity", 1024));
  base.publish_rpc = flags.Get("publish-rpc", "stream");
  if (base.publish_rpc != "stream" && base.publish_rpc != "unary") {
    std::fprintf(stderr, "eventbus-bench: --publish-rpc: stream or unary\n");
    return 2;
  }
  base.publish_window = static_cast<int>(flags.Int("publish-window", 1024));
  base.flush_every = static_cast<int>(flags.Int("flush-every", 64));
  if (!eventbus::bench::ParseOverflowFlag(flags.Get("overflow", "drop-oldest"),
                                          &base.overflow)) {
    std::fprintf(stderr,
                 "eventbus-bench: --overflow: drop-oldest, block or "
                 "disconnect\n");
    return 2;
  }
  base.bdp_probe = flags.Int("bdp-probe", 0) != 0;
  base.client_threads = static_cast<int>(flags.Int("client-threads", 2));
  base.rate = flags.Double("rate", 5000);

  int failures = 0;
  for (const std::string& workload : workloads) {
    if (workload == "W0") {
      for (int s : flags.IntList("subscribers", {1, 4, 16, 64})) {
        eventbus::bench::CoreWorkloadOptions options;
        options.subscribers = s;
        options.events = static_cast<uint64_t>(
            flags.Int("w0-events", quick ? 200'000 : 1'000'000));
        options.workers = static_cast<int>(flags.Int("w0-workers", 1));
        wait_quiet("W0");
        std::fprintf(stderr, "[eventbus-bench] W0 S=%d\n", s);
        Emit(eventbus::bench::RunCoreWorkload(options));
      }
      continue;
    }
    if (workload == "W5" || workload == "W6" || workload == "W5F" ||
        workload == "W2F") {
      eventbus::bench::DurableWorkloadOptions options;
      options.workload = workload;
      const char* tmpdir = std::getenv("TMPDIR");
      options.data_root = flags.Get(
          "data-dir", tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp");
      options.fsync = flags.Get("fsync", "always");
      options.flush_every = static_cast<int>(flags.Int("flush-every", 64));
      options.nats_server = flags.Get("nats-server", options.nats_server);
      if (workload == "W5F" || workload == "W2F") {
        options.events = static_cast<uint64_t>(
            flags.Int("w5-events", quick ? 10'000 : 100'000));
        options.window = static_cast<int>(flags.Int("w5-window", 256));
        options.rate = static_cast<double>(flags.Int("rate", 5000));
        options.seconds =
            static_cast<double>(flags.Int("w2-secs", quick ? 2 : 10));
      } else if (workload == "W5") {
        options.events = static_cast<uint64_t>(
            flags.Int("w5-events", quick ? 10'000 : 100'000));
        options.window = static_cast<int>(flags.Int("w5-window", 256));
        // The disk's own limit first: one sync per append, and one per
        // window.
        for (int batch : {1, options.window}) {
          wait_quiet("W5 raw");
          std::fprintf(stderr, "[eventbus-bench] W5 raw loop, batch %d\n",
                       batch);
          Emit(eventbus::bench::RunRawSyncLoop(
              options.data_root, batch == 1 ? 2'000 : options.events, batch));
        }
      } else {
        options.events = static_cast<uint64_t>(
            flags.Int("w6-events", quick ? 100'000 : 1'000'000));
        options.window = static_cast<int>(flags.Int("w6-window", 4096));
      }
      wait_quiet(workload);
      std::fprintf(stderr, "[eventbus-bench] %s\n", workload.c_str());
      const std::string line = eventbus::bench::RunDurableWorkload(options);
      if (line.find("\"error\"") != std::string::npos) ++failures;
      Emit(line);
      continue;
    }
    std::vector<eventbus::bench::GrpcWorkloadOptions> cases;
    eventbus::bench::GrpcWorkloadOptions options = base;
    options.workload = workload;
    if (workload == "W1") {
      options.events =
          static_cast<uint64_t>(flags.Int("events", quick ? 20'000 : 200'000));
      for (int s : flags.IntList("subscribers", {1, 16, 64})) {
        options.subscribers = s;
        cases.push_back(options);
      }
    } else if (workload == "W2" || workload == "W3") {
      options.subscribers = 16;
      options.seconds = flags.Double(workload == "W2" ? "w2-secs" : "w3-secs",
                                     quick ? 2 : 10);
      cases.push_back(options);
    } else if (workload == "W4") {
      options.subscribers = static_cast<int>(flags.Int("w4-subscribers", 1000));
      options.connections = static_cast<int>(flags.Int("w4-connections", 10));
      options.events = static_cast<uint64_t>(flags.Int("w4-events", 1000));
      options.multiplexed = flags.Has("multiplexed");
      cases.push_back(options);
    } else {
      std::fprintf(stderr, "eventbus-bench: unknown workload %s\n",
                   workload.c_str());
      return 2;
    }
    for (const auto& one : cases) {
      wait_quiet(workload);
      const std::string line = eventbus::bench::RunGrpcWorkload(one);
      if (line.find("\"error\"") != std::string::npos) ++failures;
      Emit(line);
    }
  }
  return failures == 0 ? 0 : 1;
}

// kill: client processes (subscribers, never-reading subscribers, stream and
// unary publishers) SIGKILLed at random moments, 1,000 times; half-open
// connections (a raw socket that sends the HTTP/2 preface and goes silent,
// subscriber processes frozen with SIGSTOP); a peer whose streams never read.
// Meanwhile healthy subscribers must lose nothing unreported and stay
// connected; afterwards the daemon's fds return to their baseline and its
// RSS to a bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/fault/checked_subscriber.h"
#include "tests/fault/scenarios.h"
#include "tests/fault/stream_publisher.h"
#include "tests/fault/subscriber_totals.h"
#include "tests/testing/child_process.h"

namespace eventbus::fault {
namespace {

constexpr uint64_t kCapacity = 4096;
constexpr int kHealthySubscribers = 4;
constexpr int kKillers = 6;
constexpr int kSilentSockets = 8;
constexpr int kFrozenPeers = 4;
constexpr int kNeverReadStreams = 16;
constexpr double kBackgroundRate = 10000;
// The daemon pings a quiet connection after 2 s and drops it 2 s later.
constexpr char kKeepalive[] = "2s";
constexpr absl::Duration kHalfOpenDeadline = absl::Seconds(60);
constexpr absl::Duration kFdDeadline = absl::Seconds(30);
constexpr int kFdTolerance = 2;
constexpr long kRssSlackKb = 32 * 1024;

// A TCP connection that sends the HTTP/2 client preface and an empty
// SETTINGS frame, then never writes again: a client that hung after
// connecting. It reads (and drops) what the daemon sends, to see it close.
class SilentHttp2Peer {
 public:
  explicit SilentHttp2Peer(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&address),
                           sizeof(address)) != 0) {
      return;
    }
    static constexpr char kPreface[] =
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        // SETTINGS: length 0, type 4, flags 0, stream 0.
        "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    connected_ = write(fd_, kPreface, sizeof(kPreface) - 1) ==
                 static_cast<ssize_t>(sizeof(kPreface) - 1);
  }
  ~SilentHttp2Peer() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return connected_; }
  // Waits until the daemon closed the connection; returns false at
  // `deadline`.
  bool AwaitClosed(absl::Time deadline) {
    char buffer[4096];
    while (true) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p = {fd_, POLLIN, 0};
      const int ready =
          poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (ready < 0 && errno != EINTR) return false;
      if (ready <= 0) continue;
      const ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

int PortOf(const std::string& address) {
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) {
    return -1;
  }
  return port;
}

std::unique_ptr<testing::ChildProcess> StartPeer(
    const std::string& mode, const std::string& address,
    const std::string& streams = "4") {
  testing::ChildProcess::Options options;
  // A sync client polls its connection only while it calls into gRPC, or
  // every 5 s: answer the daemon's 2 s keepalive pings while not reading.
  options.env = {"GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS=100"};
  auto child = testing::ChildProcess::Start(
      {FAULT_PEER_PATH, mode, address, streams}, std::move(options));
  return child.ok() ? std::move(*child) : nullptr;
}

// Waits, at most until `deadline`, for the daemon to hold at most `limit`
// fds; returns the last count.
int AwaitFdsAtMost(pid_t pid, int limit, absl::Time deadline) {
  int fds = CountFds(pid);
  // /proc offers no wake-up for fd changes: poll it.
  while (fds > limit && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    fds = CountFds(pid);
  }
  return fds;
}

struct KillFigures {
  std::atomic<int> kills{0};
  std::atomic<int> ready_when_killed{0};
  std::atomic<int> exited_before_kill{0};
  std::atomic<int> start_failures{0};
  std::atomic<int> peak_fds{0};
};

// One killer: starts a random client, waits a random moment (sometimes
// until it is streaming first), SIGKILLs it, reaps it; until `kills` are
// claimed.
void Killer(const std::string& address, int kills, uint64_t seed,
            KillFigures& figures, pid_t daemon_pid, ScenarioReport& report) {
  static const char* const kModes[] = {"subscribe", "stall", "publish",
                                       "unary"};
  std::mt19937_64 random(seed);
  while (figures.kills.fetch_add(1) < kills) {
    const std::string mode = kModes[random() % 4];
    std::unique_ptr<testing::ChildProcess> child = StartPeer(mode, address);
    if (child == nullptr) {
      ++figures.start_failures;
      continue;
    }
    if (random() % 3 == 0) {
      child->AwaitStdout("ready\n", absl::Seconds(10));
    }
    // The random moment of the kill is the behaviour under test.
    absl::SleepFor(absl::Milliseconds(random() % 400));
    figures.ready_when_killed += child->Stdout().find("ready") == 0;
    const int fds = CountFds(daemon_pid);
    for (int peak = figures.peak_fds.load();
         fds > peak && !figures.peak_fds.compare_exchange_weak(peak, fds);) {
    }
    child->Signal(SIGKILL);
    const std::optional<int> status = child->Wait(absl::Seconds(10));
    if (status != -SIGKILL) {
      ++figures.exited_before_kill;
      report.Progress(
          "a %s peer exited by itself with status %d before the "
          "kill: %s",
          mode, status.value_or(-1000), child->Stderr());
    }
  }
}

}  // namespace

void RunKill(const ScenarioOptions& options, ScenarioReport& report) {
  const int kills = options.quick ? 200 : 1000;
  const absl::Time began = absl::Now();
  auto daemon =
      StartDaemon({"--capacity", absl::StrCat(kCapacity), "--keepalive-time",
                   kKeepalive, "--keepalive-timeout", kKeepalive});
  if (!report.Expect(daemon.ok(), daemon.status().ToString())) return;
  const pid_t pid = (*daemon)->pid();
  const std::string address = (*daemon)->address();
  const DaemonFigures idle = ReadDaemonFigures(pid);

  std::mt19937_64 random(options.seed);
  std::vector<std::unique_ptr<CheckedSubscriber>> healthy;
  for (int i = 0; i < kHealthySubscribers; ++i) {
    healthy.push_back(std::make_unique<CheckedSubscriber>(
        NewChannel(address), absl::StrCat("healthy-", i), SubscriberBehaviour(),
        random()));
    if (!report.Expect(healthy.back()->registered(),
                       "a healthy subscriber did not subscribe")) {
      return;
    }
  }
  auto background = std::make_unique<StreamPublisher>(
      NewChannel(address), StreamPublisherOptions{.rate = kBackgroundRate});
  if (!report.Expect(background->AwaitAcked(1, absl::Now() + absl::Seconds(10)),
                     "the background publisher publishes nothing")) {
    return;
  }
  // The baseline: the daemon with its healthy clients only.
  const DaemonFigures baseline = ReadDaemonFigures(pid);
  report.Progress("baseline: rss %d kB, %d fds (idle: %d fds)", baseline.rss_kb,
                  baseline.fds, idle.fds);

  // Half-open connections: raw sockets gone silent after the HTTP/2
  // preface, and subscribers frozen with SIGSTOP (the kernel still ACKs,
  // nothing answers the daemon's pings). The daemon must drop them itself.
  const int port = PortOf(address);
  const absl::Time half_open_began = absl::Now();
  std::vector<std::unique_ptr<SilentHttp2Peer>> silent;
  for (int i = 0; i < kSilentSockets; ++i) {
    silent.push_back(std::make_unique<SilentHttp2Peer>(port));
    report.Expect(silent.back()->connected(), "a raw socket did not connect");
  }
  std::vector<std::unique_ptr<testing::ChildProcess>> frozen;
  for (int i = 0; i < kFrozenPeers; ++i) {
    frozen.push_back(StartPeer("subscribe", address));
    if (!report.Expect(
            frozen.back() != nullptr &&
                frozen.back()->AwaitStdout("ready\n", absl::Seconds(20)),
            "a subscriber to freeze did not subscribe")) {
      return;
    }
    frozen.back()->Signal(SIGSTOP);
  }
  const int fds_half_open = CountFds(pid);
  report.Progress("%d silent sockets, %d frozen subscribers: %d fds",
                  kSilentSockets, kFrozenPeers, fds_half_open);
  int silent_closed = 0;
  for (auto& peer : silent) {
    silent_closed += peer->AwaitClosed(half_open_began + kHalfOpenDeadline);
  }
  report.Expect(silent_closed == kSilentSockets,
                absl::StrCat("the daemon closed ", silent_closed, " of ",
                             kSilentSockets, " silent connections within ",
                             absl::FormatDuration(kHalfOpenDeadline)));
  const absl::Duration silent_close_time = absl::Now() - half_open_began;
  const int fds_half_open_dropped = AwaitFdsAtMost(
      pid, baseline.fds + kFdTolerance, half_open_began + kHalfOpenDeadline);
  const absl::Duration half_open_time = absl::Now() - half_open_began;
  report.Expect(
      fds_half_open_dropped <= baseline.fds + kFdTolerance,
      absl::StrCat("with the subscribers still frozen the daemon "
                   "holds ",
                   fds_half_open_dropped, " fds, baseline ", baseline.fds));
  frozen.clear();  // SIGKILL (a stopped process dies of it too)
  silent.clear();

  // A peer whose streams never read, alive through the chaos.
  std::unique_ptr<testing::ChildProcess> never_reads =
      StartPeer("stall", address, absl::StrCat(kNeverReadStreams));
  if (!report.Expect(never_reads != nullptr &&
                         never_reads->AwaitStdout("ready\n", absl::Seconds(20)),
                     "the never-reading peer did not subscribe")) {
    return;
  }
  report.Progress("%d never-read streams; killing %d client processes",
                  kNeverReadStreams, kills);

  KillFigures figures;
  const absl::Time chaos_began = absl::Now();
  std::vector<std::thread> killers;
  for (int i = 0; i < kKillers; ++i) {
    killers.emplace_back(Killer, address, kills, random(), std::ref(figures),
                         pid, std::ref(report));
  }
  for (auto& killer : killers) killer.join();
  const absl::Duration chaos_time = absl::Now() - chaos_began;
  const DaemonFigures after_chaos = ReadDaemonFigures(pid);
  report.Progress("%d kills in %s; daemon rss %d kB, %d fds", kills,
                  absl::FormatDuration(chaos_time), after_chaos.rss_kb,
                  after_chaos.fds);

  // The never-reading peer answers pings: it is still connected.
  const int fds_never_read = CountFds(pid);
  report.Expect(!never_reads->Wait(absl::ZeroDuration()).has_value() &&
                    fds_never_read >= baseline.fds + 1,
                absl::StrCat("the never-reading peer is gone (daemon fds ",
                             fds_never_read, ", baseline ", baseline.fds, ")"));
  for (auto& healthy_subscriber : healthy) {
    report.Expect(healthy_subscriber->connected(),
                  "a healthy subscriber was disconnected");
  }
  never_reads.reset();  // SIGKILL
  const int fds_after_clients = AwaitFdsAtMost(pid, baseline.fds + kFdTolerance,
                                               absl::Now() + kFdDeadline);
  report.Expect(fds_after_clients <= baseline.fds + kFdTolerance,
                absl::StrCat("fds leak: ", fds_after_clients,
                             " after the faulty clients are gone, baseline ",
                             baseline.fds));

  background->Stop();
  const StreamPublisherResult published = background->Join();
  report.Expect(published.status.ok(),
                absl::StrCat("the background publisher ended with ",
                             published.status.error_code(), " ",
                             published.status.error_message()));
  auto stub = v1::EventBusService::NewStub(NewChannel(address));
  absl::StatusOr<uint64_t> last = PublishMarker(*stub);
  if (!report.Expect(last.ok(), last.status().ToString())) return;
  SubscriberTotals totals;
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  for (auto& subscriber : healthy) {
    subscriber->FinishAt(*last);
    if (!subscriber->AwaitDone(deadline)) {
      report.Fail("a healthy subscriber did not reach the last sequence");
      subscriber->Stop();
    }
    const SubscriberOutcome outcome = subscriber->Join();
    CheckOutcome(outcome, *last, /*daemon_may_end=*/false, report);
    totals.Add(outcome);
  }
  healthy.clear();
  stub.reset();
  const int fds_end =
      AwaitFdsAtMost(pid, idle.fds + kFdTolerance, absl::Now() + kFdDeadline);
  report.Expect(
      fds_end <= idle.fds + kFdTolerance,
      absl::StrCat("fds leak: ", fds_end,
                   " once every client is gone, idle baseline ", idle.fds));

  const DaemonFigures after = ReadDaemonFigures(pid);
  const long ring_kb =
      static_cast<long>(kCapacity * StoredEventBytes() * 2 / 1024);
  const long rss_bound_kb = baseline.rss_kb + ring_kb + kRssSlackKb;
  report.Expect(
      after.rss_kb <= rss_bound_kb,
      absl::StrCat("RSS after ", after.rss_kb, " kB exceeds ", rss_bound_kb,
                   " kB (before ", baseline.rss_kb, " + ring x2 ", ring_kb,
                   " + slack ", kRssSlackKb, ")"));
  bench::JsonLine line = report.Line("totals");
  line.Int("kills", kills)
      .Int("ready_when_killed", figures.ready_when_killed.load())
      .Int("exited_before_kill", figures.exited_before_kill.load())
      .Int("start_failures", figures.start_failures.load())
      .Num("chaos_s", absl::ToDoubleSeconds(chaos_time), 1)
      .Int("silent_sockets", kSilentSockets)
      .Int("silent_closed_by_daemon", silent_closed)
      .Num("silent_closed_after_s", absl::ToDoubleSeconds(silent_close_time), 1)
      .Int("frozen_subscribers", kFrozenPeers)
      .Num("half_open_dropped_after_s", absl::ToDoubleSeconds(half_open_time),
           1)
      .Int("never_read_streams", kNeverReadStreams)
      .Int("background_acked", published.acked)
      .Int("last_sequence", *last);
  totals.AddTo(line);
  line.Int("rss_before_kb", baseline.rss_kb)
      .Int("rss_peak_kb", after.hwm_kb)
      .Int("rss_after_kb", after.rss_kb)
      .Int("rss_bound_kb", rss_bound_kb)
      .Int("fds_idle", idle.fds)
      .Int("fds_before", baseline.fds)
      .Int("fds_peak_sampled", figures.peak_fds.load())
      .Int("fds_after_chaos", after_chaos.fds)
      .Int("fds_half_open", fds_half_open)
      .Int("fds_half_open_dropped", fds_half_open_dropped)
      .Int("fds_never_read_peer_alive", fds_never_read)
      .Int("fds_after_clients", fds_after_clients)
      .Int("fds_end", fds_end)
      .Num("daemon_cpu_s", after.cpu_seconds - idle.cpu_seconds, 2)
      .Num("duration_s", absl::ToDoubleSeconds(absl::Now() - began), 1);
  report.Emit(line);
}

}  // namespace eventbus::fault

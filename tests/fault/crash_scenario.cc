// crash: eventbusd with a durable log is stopped 100 times (20 quick) at
// random moments while PublishStreams and a unary publisher publish, by
// SIGKILL, and every fifth time by SIGTERM (a clean close), under
// each storage.fsync mode in turn (always, 10ms, never: a process crash
// loses nothing acknowledged in any of them), with small segments so that
// kills land in segment rolls and seals too. After every restart the log
// keeps its instance id, reports nothing lost but a torn tail, and goes on
// numbering. At the end one subscriber reads the whole log from the start:
// sequences 1..last without a gap or a Lagged, and every acknowledged event
// at its sequence with its id.
#include <signal.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/fault/scenarios.h"
#include "tests/fault/stream_publisher.h"
#include "tests/testing/temp_dir.h"

namespace eventbus::fault {
namespace {

constexpr int kStreamPublishers = 2;
constexpr int kCleanStopEvery = 5;
const char* const kFsyncModes[] = {"always", "10ms", "never"};
constexpr char kSegmentBytes[] = "64KiB";
// The kill comes this long at most after every publisher's first ack.
constexpr int kMaxRunMillis = 250;
constexpr absl::Duration kStartDeadline = absl::Seconds(20);
constexpr absl::Duration kReadDeadline = absl::Minutes(5);
constexpr char kInstanceHeader[] = "eventbus-instance";

// Every acknowledged event's id, by sequence; a sequence acknowledged twice
// with different ids is a violation.
class AckedEvents {
 public:
  void Add(uint64_t sequence, const std::string& id, ScenarioReport& report) {
    if (sequence >= ids_.size()) ids_.resize(sequence + 1);
    if (!ids_[sequence].empty() && ids_[sequence] != id) {
      report.Fail(absl::StrCat("sequence ", sequence,
                               " was acknowledged twice, as ", ids_[sequence],
                               " and as ", id));
    }
    if (ids_[sequence].empty()) ++count_;
    ids_[sequence] = id;
  }
  // The acknowledged id at `sequence`, empty if none.
  const std::string& IdAt(uint64_t sequence) const {
    static const std::string* const kNone = new std::string;
    return sequence < ids_.size() ? ids_[sequence] : *kNone;
  }
  uint64_t count() const { return count_; }
  uint64_t max_sequence() const { return ids_.empty() ? 0 : ids_.size() - 1; }

 private:
  std::vector<std::string> ids_;
  uint64_t count_ = 0;
};

// Publishes with the unary Publish until one fails (the kill); keeps what
// was acknowledged and the instance id the daemon answered with.
struct UnaryOutcome {
  std::vector<std::pair<uint64_t, std::string>> acked;
  std::string instance;
};
void PublishUnary(std::shared_ptr<grpc::Channel> channel,
                  absl::Notification* first_ack, UnaryOutcome* outcome) {
  PublishUnaryUntilFailure(
      std::move(channel),
      [&](const grpc::Status& status, const grpc::ClientContext& context,
          const v1::PublishResponse& response, absl::Duration) {
        if (!status.ok()) return;
        if (outcome->instance.empty()) {
          const auto& metadata = context.GetServerInitialMetadata();
          if (auto it = metadata.find(kInstanceHeader); it != metadata.end()) {
            outcome->instance.assign(it->second.data(), it->second.size());
          }
        }
        outcome->acked.emplace_back(response.sequence(), response.id());
        if (!first_ack->HasBeenNotified()) first_ack->Notify();
      });
}

// The recovery time the daemon logged ("storage: recovered PATH in T:").
absl::Duration LoggedRecovery(const std::string& log) {
  const size_t at = log.find("storage: recovered ");
  if (at == std::string::npos) return absl::InfiniteDuration();
  const size_t in = log.find(" in ", at);
  const size_t colon = log.find(':', in);
  absl::Duration took = absl::InfiniteDuration();
  if (in == std::string::npos || colon == std::string::npos ||
      !absl::ParseDuration(log.substr(in + 4, colon - in - 4), &took)) {
    return absl::InfiniteDuration();
  }
  return took;
}

// Reads the whole log from the start and checks it against `acked`.
// Returns the events read.
uint64_t CheckWholeLog(const std::string& address, uint64_t last,
                       const AckedEvents& acked, ScenarioReport& report) {
  auto stub = v1::EventBusService::NewStub(NewChannel(address));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kReadDeadline));
  v1::SubscribeRequest request;
  request.set_from_earliest(true);
  request.set_name("crash-check");
  auto reader = stub->Subscribe(&context, request);
  v1::SubscribeResponse response;
  uint64_t expected = 1, read = 0, wrong_ids = 0;
  while (expected <= last && reader->Read(&response)) {
    if (response.has_lagged()) {
      report.Fail(absl::StrCat("reading the log from the start lost sequences ",
                               response.lagged().first_sequence(), "..",
                               response.lagged().last_sequence()));
      expected = response.lagged().last_sequence() + 1;
    }
    for (const v1::Event& event : response.events()) {
      if (event.sequence() != expected) {
        report.Fail(absl::StrCat("the log holds sequence ", event.sequence(),
                                 " where ", expected, " is due"));
      }
      const std::string& id = acked.IdAt(event.sequence());
      if (!id.empty() && id != event.id() && ++wrong_ids <= 5) {
        report.Fail(absl::StrCat("acknowledged sequence ", event.sequence(),
                                 " was ", id, ", the log holds ", event.id()));
      }
      expected = event.sequence() + 1;
      ++read;
    }
  }
  report.Expect(expected > last,
                absl::StrCat("the log ends at ", expected - 1, " of ", last));
  context.TryCancel();
  reader->Finish();
  return read;
}

}  // namespace

void RunCrash(const ScenarioOptions& options, ScenarioReport& report) {
  const int kills = options.quick ? 20 : 100;
  const absl::Time began = absl::Now();
  testing::TempDir scratch("eventbus-crash");
  const std::string path = scratch.Path("log");
  std::mt19937_64 random(options.seed);
  AckedEvents acked;
  std::string instance;
  int torn_tails = 0;
  int clean_stops = 0;
  absl::Duration slowest_recovery, slowest_start;
  for (int round = 0; round < kills && report.ok(); ++round) {
    const char* fsync = kFsyncModes[round % std::size(kFsyncModes)];
    const absl::Time start = absl::Now();
    auto daemon = StartDaemon({"--storage-path", path, "--storage-fsync", fsync,
                               "--storage-segment-bytes", kSegmentBytes,
                               "--retention-max-bytes", "0"});
    if (!report.Expect(daemon.ok(), daemon.status().ToString())) break;
    slowest_start = std::max(slowest_start, absl::Now() - start);
    const std::string log = (*daemon)->Log();
    if (round > 0) {
      slowest_recovery = std::max(slowest_recovery, LoggedRecovery(log));
    }
    torn_tails += absl::StrContains(log, "torn tail cut off");
    for (const char* loss : {"missing between", "repaired:", "was missing"}) {
      report.Expect(!absl::StrContains(log, loss),
                    absl::StrCat("restart ", round, " reported a loss: ", log));
    }

    std::vector<std::unique_ptr<StreamPublisher>> streams;
    for (int i = 0; i < kStreamPublishers; ++i) {
      streams.push_back(std::make_unique<StreamPublisher>(
          NewChannel((*daemon)->address()),
          StreamPublisherOptions{
              .window = 1024, .record_sequences = true, .record_ids = true}));
    }
    absl::Notification unary_acked;
    UnaryOutcome unary;
    std::thread unary_thread(PublishUnary, NewChannel((*daemon)->address()),
                             &unary_acked, &unary);
    const absl::Time deadline = absl::Now() + kStartDeadline;
    bool publishing = true;
    for (auto& stream : streams) {
      publishing = publishing && stream->AwaitAcked(1, deadline);
    }
    publishing =
        publishing && unary_acked.WaitForNotificationWithDeadline(deadline);
    report.Expect(publishing, absl::StrCat("restart ", round, " (fsync ", fsync,
                                           "): the publishers got no ack"));
    // The random moment of the kill is the behaviour under test.
    absl::SleepFor(absl::Milliseconds(random() % kMaxRunMillis));
    // Every fifth stop is a clean one (SIGTERM: drain, then the log closed
    // with its index), so the next start takes the other recovery path.
    const bool clean = round % kCleanStopEvery == kCleanStopEvery - 1;
    (*daemon)->Signal(clean ? SIGTERM : SIGKILL);
    report.Expect((*daemon)->Wait(absl::Seconds(30)) == (clean ? 0 : -SIGKILL),
                  clean ? "the daemon did not exit 0 after SIGTERM"
                        : "the daemon did not die of SIGKILL");
    clean_stops += clean;
    unary_thread.join();
    for (auto& stream : streams) {
      const StreamPublisherResult result = stream->Join();
      for (size_t i = 0; i < result.sequences.size(); ++i) {
        acked.Add(result.sequences[i], result.ids[i], report);
      }
    }
    for (const auto& [sequence, id] : unary.acked) {
      acked.Add(sequence, id, report);
    }
    if (instance.empty()) instance = unary.instance;
    report.Expect(unary.instance.empty() || unary.instance == instance,
                  absl::StrCat("restart ", round, " changed the instance from ",
                               instance, " to ", unary.instance));
    if (round % 10 == 9) {
      report.Progress("%d kills, %d events acknowledged, last %d", round + 1,
                      acked.count(), acked.max_sequence());
    }
  }
  if (!report.ok()) return;

  auto daemon = StartDaemon({"--storage-path", path, "--retention-max-bytes",
                             "0", "--storage-segment-bytes", kSegmentBytes});
  if (!report.Expect(daemon.ok(), daemon.status().ToString())) return;
  auto stub = v1::EventBusService::NewStub(NewChannel((*daemon)->address()));
  absl::StatusOr<uint64_t> last = PublishMarker(*stub);
  if (!report.Expect(last.ok(), last.status().ToString())) return;
  report.Expect(
      *last > acked.max_sequence(),
      absl::StrCat("after the crashes the bus numbers from ", *last,
                   ", not above the last acknowledged ", acked.max_sequence()));
  const absl::Time read_began = absl::Now();
  const uint64_t read =
      CheckWholeLog((*daemon)->address(), *last, acked, report);
  const absl::Duration read_time = absl::Now() - read_began;
  (*daemon)->Signal(SIGTERM);
  report.Expect((*daemon)->Wait(absl::Seconds(30)) == 0,
                "the daemon did not exit 0 after SIGTERM");
  ShowDaemonLogOnFailure(**daemon, report);

  bench::JsonLine line = report.Line("totals");
  line.Int("stops", kills)
      .Int("clean_stops", clean_stops)
      .Int("acknowledged", acked.count())
      .Int("last_sequence", *last)
      .Int("unacknowledged_kept", *last - 1 - acked.count())
      .Int("torn_tails_cut", torn_tails)
      .Num("slowest_recovery_ms", absl::ToDoubleMilliseconds(slowest_recovery),
           2)
      .Num("slowest_start_ms", absl::ToDoubleMilliseconds(slowest_start), 1)
      .Int("read_back", read)
      .Num("read_back_eps", read / absl::ToDoubleSeconds(read_time), 0)
      .Num("duration_s", absl::ToDoubleSeconds(absl::Now() - began), 1);
  report.Emit(line);
}

}  // namespace eventbus::fault

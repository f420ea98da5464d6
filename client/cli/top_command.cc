#include "client/cli/top_command.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/admin_views.h"
#include "client/cli/interrupt.h"

namespace eventbus::cli {
namespace {

// Lines of a frame that are not subscriber rows: two summary lines, a blank
// line, the table's header, and a line to spare for the prompt.
constexpr size_t kFrameLines = 5;

// What identifies one subscription across two listings.
using SubscriberKey = std::tuple<std::string, std::string, int64_t, int32_t>;

SubscriberKey KeyOf(const v1::SubscriberInfo& s) {
  return {s.peer(), s.name(), s.start_time().seconds(), s.start_time().nanos()};
}

// One poll of the daemon.
struct Sample {
  absl::Time time;
  std::string instance;
  v1::BusInfo info;
  std::vector<v1::SubscriberInfo> subscribers;
};

absl::StatusOr<Sample> Poll(const Connection& connection) {
  Sample sample;
  absl::StatusOr<v1::BusInfo> info = GetBusInfo(connection);
  if (!info.ok()) return info.status();
  absl::StatusOr<std::vector<v1::SubscriberInfo>> subscribers =
      ListSubscribers(connection, &sample.instance);
  if (!subscribers.ok()) return subscribers.status();
  sample.time = absl::Now();
  sample.info = *std::move(info);
  sample.subscribers = *std::move(subscribers);
  return sample;
}

// (now - before) / seconds, or "-" without a comparable sample.
std::string Rate(uint64_t now, uint64_t before, double seconds) {
  if (seconds <= 0 || now < before) return "-";
  return absl::StrFormat("%.1f/s", static_cast<double>(now - before) / seconds);
}

// The terminal's rows, or 0 when stdout is not a terminal.
size_t TerminalRows() {
  winsize size{};
  if (isatty(STDOUT_FILENO) == 0) return 0;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_row == 0) {
    return 24;
  }
  return size.ws_row;
}

std::string Frame(const Sample& now, const Sample* before,
                  absl::Duration interval, size_t rows) {
  const v1::BusInfo& info = now.info;
  const double seconds =
      before != nullptr ? absl::ToDoubleSeconds(now.time - before->time) : 0;
  const v1::BusInfo empty;
  const v1::BusInfo& last = before != nullptr ? before->info : empty;
  std::string frame =
      absl::StrCat("eventbus top  instance ", info.instance(), "  up ",
                   ShortDuration(absl::Seconds(info.uptime().seconds())),
                   "  every ", ShortDuration(interval), ", Ctrl-C quits\n");
  absl::StrAppend(
      &frame, "publish ", Rate(info.published(), last.published(), seconds),
      "  deliver ", Rate(info.delivered(), last.delivered(), seconds),
      "  missed ", Rate(info.missed(), last.missed(), seconds), "  head ",
      info.head_sequence(), "  ring ", info.ring_events(), "/", info.capacity(),
      "  subscribers ", info.subscribers(), "  blocked ",
      info.blocked_publishers(), "\n\n");
  std::map<SubscriberKey, uint64_t> received_before;
  if (before != nullptr) {
    for (const v1::SubscriberInfo& s : before->subscribers) {
      received_before[KeyOf(s)] = s.received();
    }
  }
  std::vector<double> rates;
  for (const v1::SubscriberInfo& s : now.subscribers) {
    const auto found = received_before.find(KeyOf(s));
    // A subscriber that started since the last frame: from its start.
    const double elapsed =
        found != received_before.end()
            ? seconds
            : absl::ToDoubleSeconds(
                  now.time - (absl::FromUnixSeconds(s.start_time().seconds()) +
                              absl::Nanoseconds(s.start_time().nanos())));
    const uint64_t from = found != received_before.end() ? found->second : 0;
    rates.push_back(elapsed > 0 && s.received() >= from
                        ? static_cast<double>(s.received() - from) / elapsed
                        : 0);
  }
  size_t max_rows = SIZE_MAX;
  if (rows > 0) {
    max_rows = rows > kFrameLines + 1 ? rows - kFrameLines : 1;
    // The "... and N more" line takes a row too.
    if (now.subscribers.size() > max_rows && max_rows > 1) --max_rows;
  }
  absl::StrAppend(&frame,
                  SubscriberTable(now.subscribers, now.time, rates, max_rows));
  return frame;
}

}  // namespace

TopCommand::TopCommand(CLI::App* parent)
    : Command(parent, "top",
              "a live view: rates, the ring, subscribers most behind first",
              "Redraws every --interval from eventbus.v1.AdminService (with "
              "\nauthentication on, the token needs the admin grant): the "
              "publish, delivery\nand loss rates over the last interval, the "
              "head and the ring, and every\nsubscriber, most behind first, "
              "with its receive rate. Ctrl-C quits.") {
  app()
      ->add_option("--interval", interval_,
                   "time between frames (default 1s; at least 100ms)")
      ->type_name("DURATION");
  app()
      ->add_option("--iterations", iterations_,
                   "stop after N frames (default 0: until Ctrl-C)")
      ->type_name("N");
}

int TopCommand::Run(const Connection& connection) {
  absl::Duration interval;
  if (!absl::ParseDuration(interval_, &interval) ||
      interval < absl::Milliseconds(100)) {
    return UsageFailure(absl::InvalidArgumentError(
        "--interval: expected a duration of at least 100ms, such as 1s"));
  }
  // Fully buffered (a terminal's stdout is line-buffered): each frame
  // leaves in one write at the fflush.
  std::setvbuf(stdout, nullptr, _IOFBF, 64 * 1024);
  Interrupt& interrupt = ProcessInterrupt();
  std::optional<Sample> last;
  absl::Time next = absl::Now();
  for (uint64_t frames = 0; iterations_ == 0 || frames < iterations_;
       ++frames) {
    if (frames > 0 && !interrupt.SleepUntil(next)) return kInterrupted;
    // After a slow poll, the next frame is an interval away, not at once.
    next = std::max(next + interval, absl::Now());
    absl::StatusOr<Sample> sample = Poll(connection);
    if (interrupt.interrupted()) return kInterrupted;
    const size_t rows = TerminalRows();
    std::string frame;
    if (!sample.ok()) {
      if (!last.has_value()) return RpcFailure("top", sample.status());
      frame = absl::StrCat("eventbus top: ", sample.status().ToString(),
                           "\nretrying every ", ShortDuration(interval),
                           ", Ctrl-C quits\n");
    } else {
      // Another daemon run: with a durable log the instance stays the same
      // across restarts, but the uptime (and every total) starts again.
      const bool comparable =
          last.has_value() && last->instance == sample->instance &&
          sample->info.uptime().seconds() >= last->info.uptime().seconds();
      frame = Frame(*sample, comparable ? &*last : nullptr, interval, rows);
      last = *std::move(sample);
    }
    // On a terminal: home and clear, then the frame, in one write so that
    // a frame never shows half drawn.
    frame.insert(0, rows > 0 ? "\x1b[H\x1b[2J" : (frames > 0 ? "\n" : ""));
    std::fwrite(frame.data(), 1, frame.size(), stdout);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace eventbus::cli

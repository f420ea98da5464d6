#include "client/cli/subscribe_command.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/cli/flag_values.h"
#include "client/cli/interrupt.h"
#include "client/cli/nats_source.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus::cli {
namespace {

constexpr char kDescription[] =
    "Prints each event as one JSON line (protobuf JSON mapping of\n"
    "eventbus.v1.Event), flushed per line. Lost events are reported as their\n"
    "own lines, {\"lagged\":{\"missed\":\"5\",\"firstSequence\":\"10\","
    "\"lastSequence\":\"14\"}},\n"
    "and a daemon restart as {\"instanceChanged\":{...}}. Reconnects with\n"
    "backoff and resumes after the last sequence seen; connection changes\n"
    "go to stderr.\n\n"
    "With --nats, reads the NATS JetStream stream the daemons forward to\n"
    "(forward.nats) instead, the merged stream of a fleet of sidecars: the\n"
    "same JSON lines, live or --from-earliest; no --from-sequence, filter\n"
    "or overflow there.";

}  // namespace

SubscribeCommand::SubscribeCommand(CLI::App* parent)
    : Command(parent, "subscribe",
              "print events as JSON lines (protobuf JSON mapping)",
              kDescription) {
  CLI::App* app = this->app();
  AddOptionalFlag(app, "--from-sequence", "N", &from_sequence_,
                  "start at sequence N (resume)");
  app->add_flag("--from-earliest", from_earliest_,
                "start at the oldest event the bus retains");
  AddRepeatedFlag(app, "--type", "TYPE", &types_,
                  "only audit or space_name events");
  AddRepeatedFlag(app, "--attr", "KEY=VALUE", &attributes_,
                  "only events with this attribute");
  app->add_option("--filter", expression_,
                  "only events for which this expression is true, e.g.\n"
                  "'audit.status == \"AUDIT_STATUS_DENIED\"' (see the "
                  "README)")
      ->type_name("EXPR");
  app->add_option("--name", name_,
                  "subscriber name, shown in the daemon's logs\n"
                  "(default eventbus-cli)")
      ->type_name("NAME");
  app->add_option("--overflow", overflow_,
                  "when this subscriber falls bus.capacity events behind:\n"
                  "drop-oldest (lose them, told exactly which; the "
                  "default),\nblock (hold publishers back, for at most "
                  "bus.max_block),\ndisconnect (end, then resume where it "
                  "stopped)")
      ->type_name("POLICY");
  AddOptionalFlag(app, "--count", "N", &count_, "exit 0 after N events");
  app->add_option("--nats", nats_,
                  "read the JetStream stream of forwarded events at these\n"
                  "NATS URLs (comma-separated; nats://user:pass@host:4222)\n"
                  "instead of the bus")
      ->type_name("URLS");
  app->add_option("--nats-stream", nats_stream_,
                  "with --nats: the stream (default EVENTBUS)")
      ->type_name("NAME");
  app->add_option("--nats-subject", nats_subject_,
                  "with --nats: its subjects to read (default eventbus.>)")
      ->type_name("SUBJECT");
}

absl::StatusOr<client::SubscriberOptions> SubscribeCommand::OptionsFromFlags()
    const {
  client::SubscriberOptions options;
  v1::SubscribeRequest& request = options.request;
  if (from_sequence_ && from_earliest_) {
    return absl::InvalidArgumentError(
        "--from-sequence and --from-earliest exclude each other");
  }
  if (from_sequence_) {
    uint64_t sequence = 0;
    if (!absl::SimpleAtoi(*from_sequence_, &sequence)) {
      return absl::InvalidArgumentError("--from-sequence: expected an integer");
    }
    request.set_from_sequence(sequence);
  }
  if (from_earliest_) request.set_from_earliest(true);
  for (const std::string& type : types_) {
    absl::StatusOr<v1::EventType> parsed = ParseEventType("--type", type);
    if (!parsed.ok()) return parsed.status();
    request.mutable_filter()->add_types(*parsed);
  }
  if (absl::Status added = AddAttributes(
          attributes_, request.mutable_filter()->mutable_attributes());
      !added.ok()) {
    return added;
  }
  request.mutable_filter()->set_expression(expression_);
  absl::StatusOr<v1::Overflow> overflow =
      ParseOverflow("--overflow", overflow_);
  if (!overflow.ok()) return overflow.status();
  request.set_overflow(*overflow);
  request.set_name(name_);
  return options;
}

int SubscribeCommand::Run(const Connection& connection) {
  absl::StatusOr<client::SubscriberOptions> options = OptionsFromFlags();
  if (!options.ok()) return UsageFailure(options.status());
  uint64_t count = 0;  // 0: no limit
  if (count_) {
    absl::StatusOr<uint64_t> parsed = ParsePositiveInteger("--count", *count_);
    if (!parsed.ok()) return UsageFailure(parsed.status());
    count = *parsed;
  }
  if (!nats_.empty()) {
    if (from_sequence_ || !types_.empty() || !attributes_.empty() ||
        !expression_.empty() || overflow_ != "drop-oldest") {
      return UsageFailure(absl::InvalidArgumentError(
          "--nats reads a JetStream stream: --from-sequence, --type, --attr, "
          "--filter and --overflow are the bus's (use --from-earliest, "
          "--nats-subject)"));
    }
    return SubscribeFromNats({.urls = nats_,
                              .stream = nats_stream_,
                              .subject = nats_subject_,
                              .from_earliest = from_earliest_,
                              .count = count},
                             ProcessInterrupt());
  }

  auto subscriber =
      client::Subscriber::Start(connection.channel, *std::move(options));
  if (!subscriber.ok()) return RpcFailure("subscribe", subscriber.status());
  Interrupt& interrupt = ProcessInterrupt();
  interrupt.Watch(subscriber->get());
  uint64_t received = 0;
  int exit_status = 0;
  while (auto notice = (*subscriber)->Next(absl::InfiniteFuture())) {
    using Kind = client::SubscriberNotice::Kind;
    switch (notice->kind) {
      case Kind::kEvent:
        PrintLine(ToJson(notice->event));
        ++received;
        break;
      case Kind::kLagged: {
        v1::SubscribeResponse lagged;
        *lagged.mutable_lagged() = notice->lagged;
        PrintLine(ToJson(lagged));
        break;
      }
      case Kind::kInstanceChanged:
        PrintLine(absl::StrFormat(
            R"({"instanceChanged":{"previousInstance":"%s","instance":"%s","lostFromSequence":"%d"}})",
            notice->previous_instance, notice->instance, notice->sequence));
        break;
      case Kind::kConnected:
        std::fprintf(stderr,
                     "eventbus: subscribed (instance %s, from sequence %llu)\n",
                     notice->instance.c_str(),
                     static_cast<unsigned long long>(notice->sequence));
        break;
      case Kind::kDisconnected:
        if (notice->final) {
          exit_status = RpcFailure("subscribe", notice->status);
        } else {
          std::fprintf(stderr, "eventbus: disconnected (%s); retrying in %s\n",
                       notice->status.ToString().c_str(),
                       absl::FormatDuration(notice->retry_in).c_str());
        }
        break;
    }
    if (count > 0 && received >= count) break;
  }
  interrupt.Watch(nullptr);
  if (interrupt.interrupted()) return kInterrupted;
  return exit_status;
}

}  // namespace eventbus::cli

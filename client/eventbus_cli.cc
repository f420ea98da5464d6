// eventbus: the command-line client of eventbusd.
//
//   eventbus [--server ADDR] publish   [flags]   publish events, print receipts
//   eventbus [--server ADDR] subscribe [flags]   print events as JSON lines
//   eventbus [--server ADDR] health    [flags]   SERVING or not
//
// Data goes to stdout, diagnostics to stderr. Exit status: 0 on success, 1
// when health is not SERVING, 2 on a usage error, 64 + the gRPC status code
// when an RPC fails (as grpcurl does), 130 on SIGINT.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/channel.h"
#include "client/publisher.h"
#include "client/subscriber.h"
#include "eventbus/v1/eventbus.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "base/mutex.h"

namespace eventbus::cli {
namespace {

constexpr int kUsageError = 2;
constexpr int kRpcErrorBase = 64;
constexpr int kInterrupted = 130;
constexpr char kDefaultServer[] = "127.0.0.1:50051";

constexpr char kUsage[] = R"(Usage: eventbus [--server ADDR] COMMAND [flags]

Commands:
  publish     publish events and print what the bus assigned
  subscribe   print events as JSON lines (protobuf JSON mapping)
  health      print SERVING or NOT_SERVING; exit 0 only when SERVING

Global flags:
  --server ADDR     host:port or unix:PATH of eventbusd; default
                    $EVENTBUS_SERVER, else 127.0.0.1:50051
  --timeout DUR     deadline of each unary RPC (default 5s)
  --tls             use TLS, trusting the system's CAs
  --ca-file FILE    use TLS, trusting the CAs in FILE (PEM); default
                    $EVENTBUS_CA_FILE
  --cert-file FILE  mTLS: this client's certificate (PEM), with --key-file;
  --key-file FILE   defaults $EVENTBUS_CERT_FILE and $EVENTBUS_KEY_FILE
  --token-file FILE send the bearer token in FILE (its first line) on every
                    call; default: the token in $EVENTBUS_TOKEN, if set (no
                    flag takes a token: command lines are visible to others)
  -h, --help        this text; `eventbus COMMAND --help` for a command's flags
  --version         print the version

Exit status: 0 success, 1 health not SERVING, 2 usage error,
64 + gRPC status code on an RPC failure, 130 on SIGINT.
)";

constexpr char kPublishUsage[] = R"(Usage: eventbus publish [flags]

Publishes one event built from flags (or --count of them), or, with --json,
one event per line of stdin in the protobuf JSON mapping of eventbus.v1.Event
(e.g. {"source":"ci","audit":{"username":"alice","operation":"OPERATION_READ"}}).
Prints one JSON line per event: {"sequence":"1","id":"...","subscribers":0}.

Flags:
  --json                  read events from stdin, one JSON object per line
  --type TYPE             audit (default) or space_name
  --id ID                 event id (default: the bus assigns a UUID)
  --source NAME           publishing service
  --attr KEY=VALUE        an attribute; repeatable
  audit events:
    --username U  --client-ip IP  --user-agent UA  --resource-id ID
    --operation OP        e.g. read, create, OPERATION_DELETE
    --resource-type T     file, database, card, drift
    --status S            success, failed, denied
    --registry-type R     data, model, experiment, audit, ..., tool
    --access-location L  --error-message M  --metadata JSON  --route R
  space_name events:
    --space S  --name N  --registry-type R
  --count N               publish N copies (attribute "n" numbers them)
  --rate R                at most R events per second (with --count)
)";

constexpr char kSubscribeUsage[] = R"(Usage: eventbus subscribe [flags]

Prints each event as one JSON line (protobuf JSON mapping of
eventbus.v1.Event), flushed per line. Lost events are reported as their own
lines, {"lagged":{"missed":"5","firstSequence":"10","lastSequence":"14"}},
and a daemon restart as {"instanceChanged":{...}}. Reconnects with backoff
and resumes after the last sequence seen; connection changes go to stderr.

Flags:
  --from-sequence N       start at sequence N (resume)
  --from-earliest         start at the oldest event the bus retains
  --type TYPE             only audit or space_name events; repeatable
  --attr KEY=VALUE        only events with this attribute; repeatable
  --name NAME             subscriber name, shown in the daemon's logs
  --count N               exit 0 after N events
)";

constexpr char kHealthUsage[] = R"(Usage: eventbus health [flags]

Asks grpc.health.v1.Health/Check and prints the status.

Flags:
  --service NAME          service to check (default "": the whole server)
)";

// Parsed flags: name -> values, in order.
using Flags = std::map<std::string, std::vector<std::string>>;

struct FlagSpec {
  const char* name;
  bool takes_value;
};

struct UsageError {
  std::string message;
};

// Parses argv[*index..] while it holds flags of `specs`; stops at the first
// non-flag. Returns the error message, if any.
std::optional<std::string> ParseFlags(int argc, char** argv, int* index,
                                      const std::vector<FlagSpec>& specs,
                                      Flags* flags) {
  for (; *index < argc; ++*index) {
    std::string arg = argv[*index];
    if (!absl::StartsWith(arg, "-")) return std::nullopt;
    if (arg == "-h") arg = "--help";
    std::string name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& candidate : specs) {
      if (name == candidate.name) spec = &candidate;
    }
    if (spec == nullptr) return absl::StrCat("unknown flag ", name);
    if (spec->takes_value && !value) {
      if (*index + 1 >= argc) return absl::StrCat(name, " needs a value");
      value = argv[++*index];
    }
    if (!spec->takes_value && value) {
      return absl::StrCat(name, " takes no value");
    }
    (*flags)[name].push_back(value.value_or(""));
  }
  return std::nullopt;
}

bool Has(const Flags& flags, const std::string& name) {
  return flags.count(name) > 0;
}

std::string Last(const Flags& flags, const std::string& name,
                 const std::string& fallback = "") {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second.back();
}

// SIGINT / SIGTERM, taken by a thread of its own (sigwait), observable by
// any thread and able to cancel a subscription.
class Interrupt {
 public:
  void Trigger() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    interrupted_ = true;
    if (subscriber_ != nullptr) subscriber_->Stop();
    changed_.SignalAll();
  }
  bool interrupted() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return interrupted_;
  }
  // Waits until `deadline`; returns false when interrupted first.
  bool SleepUntil(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    while (!interrupted_ && changed_.WaitUntil(deadline)) {
    }
    return !interrupted_;
  }
  void Watch(client::Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    subscriber_ = subscriber;
    if (interrupted_ && subscriber_ != nullptr) subscriber_->Stop();
  }

 private:
  Mutex mu_;
  CondVar changed_{&mu_};
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
  client::Subscriber* subscriber_ ABSL_GUARDED_BY(mu_) = nullptr;
};

Interrupt& interrupt() {
  static Interrupt* instance = new Interrupt;
  return *instance;
}

int RpcFailure(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "eventbus: %s failed: %s\n", what,
               status.ToString().c_str());
  return kRpcErrorBase + static_cast<int>(status.code());
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = false;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Sets *out from an enum flag: "read", "OPERATION_READ" or "operation-read".
std::optional<std::string> SetEnumFlag(
    const Flags& flags, const char* flag, const std::string& prefix,
    const google::protobuf::EnumDescriptor* descriptor, int* out) {
  if (!Has(flags, flag)) return std::nullopt;
  std::string name = absl::AsciiStrToUpper(Last(flags, flag));
  absl::StrReplaceAll({{"-", "_"}}, &name);
  const auto* value = descriptor->FindValueByName(name);
  if (value == nullptr) value = descriptor->FindValueByName(prefix + name);
  if (value == nullptr || value->number() == 0) {
    std::vector<std::string> names;
    for (int i = 1; i < descriptor->value_count(); ++i) {
      names.push_back(absl::AsciiStrToLower(
          descriptor->value(i)->name().substr(prefix.size())));
    }
    return absl::StrCat(flag, ": unknown value \"", Last(flags, flag),
                        "\"; one of ", absl::StrJoin(names, ", "));
  }
  *out = value->number();
  return std::nullopt;
}

std::optional<std::string> AddAttributes(
    const Flags& flags, google::protobuf::Map<std::string, std::string>* map) {
  auto it = flags.find("--attr");
  if (it == flags.end()) return std::nullopt;
  for (const std::string& pair : it->second) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::StrCat("--attr: expected KEY=VALUE, got \"", pair, "\"");
    }
    (*map)[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return std::nullopt;
}

// The event the publish flags describe.
std::optional<std::string> EventFromFlags(const Flags& flags,
                                          v1::Event* event) {
  if (Has(flags, "--id")) event->set_id(Last(flags, "--id"));
  if (Has(flags, "--source")) event->set_source(Last(flags, "--source"));
  if (auto error = AddAttributes(flags, event->mutable_attributes())) {
    return error;
  }
  const std::string type = Last(flags, "--type", "audit");
  int registry = 0;
  if (auto error = SetEnumFlag(flags, "--registry-type", "REGISTRY_TYPE_",
                               v1::RegistryType_descriptor(), &registry)) {
    return error;
  }
  if (type == "space_name" || type == "space-name") {
    v1::SpaceNameEvent* space = event->mutable_space_name();
    space->set_space(Last(flags, "--space"));
    space->set_name(Last(flags, "--name"));
    space->set_registry_type(static_cast<v1::RegistryType>(registry));
    return std::nullopt;
  }
  if (type != "audit") {
    return absl::StrCat("--type: unknown event type \"", type,
                        "\"; audit or space_name");
  }
  v1::AuditEvent* audit = event->mutable_audit();
  audit->set_username(Last(flags, "--username"));
  audit->set_client_ip(Last(flags, "--client-ip"));
  audit->set_user_agent(Last(flags, "--user-agent"));
  audit->set_resource_id(Last(flags, "--resource-id"));
  audit->set_metadata(Last(flags, "--metadata"));
  audit->set_route(Last(flags, "--route"));
  if (Has(flags, "--access-location")) {
    audit->set_access_location(Last(flags, "--access-location"));
  }
  if (Has(flags, "--error-message")) {
    audit->set_error_message(Last(flags, "--error-message"));
  }
  audit->set_registry_type(static_cast<v1::RegistryType>(registry));
  int value = 0;
  if (auto error = SetEnumFlag(flags, "--operation", "OPERATION_",
                               v1::Operation_descriptor(), &value)) {
    return error;
  }
  audit->set_operation(static_cast<v1::Operation>(value));
  value = 0;
  if (auto error = SetEnumFlag(flags, "--resource-type", "RESOURCE_TYPE_",
                               v1::ResourceType_descriptor(), &value)) {
    return error;
  }
  audit->set_resource_type(static_cast<v1::ResourceType>(value));
  value = 0;
  if (auto error = SetEnumFlag(flags, "--status", "AUDIT_STATUS_",
                               v1::AuditStatus_descriptor(), &value)) {
    return error;
  }
  audit->set_status(static_cast<v1::AuditStatus>(value));
  return std::nullopt;
}

int Usage(const char* text, const std::string& error) {
  std::fprintf(stderr, "eventbus: %s\n\n%s", error.c_str(), text);
  return kUsageError;
}

int PrintReceipt(const absl::StatusOr<client::PublishReceipt>& receipt) {
  if (!receipt.ok()) return RpcFailure("publish", receipt.status());
  v1::PublishResponse response;
  response.set_sequence(receipt->sequence);
  response.set_id(receipt->id);
  response.set_subscribers(receipt->subscribers);
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(response, &json, options);
  PrintLine(json);
  return 0;
}

int Publish(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout,
            int argc, char** argv, int index) {
  Flags flags;
  if (auto error = ParseFlags(argc, argv, &index,
                              {{"--help", false},
                               {"--json", false},
                               {"--type", true},
                               {"--id", true},
                               {"--source", true},
                               {"--attr", true},
                               {"--username", true},
                               {"--client-ip", true},
                               {"--user-agent", true},
                               {"--operation", true},
                               {"--resource-type", true},
                               {"--resource-id", true},
                               {"--access-location", true},
                               {"--status", true},
                               {"--error-message", true},
                               {"--metadata", true},
                               {"--registry-type", true},
                               {"--route", true},
                               {"--space", true},
                               {"--name", true},
                               {"--count", true},
                               {"--rate", true}},
                              &flags)) {
    return Usage(kPublishUsage, *error);
  }
  if (Has(flags, "--help")) {
    std::fputs(kPublishUsage, stdout);
    return 0;
  }
  if (index < argc) {
    return Usage(kPublishUsage,
                 absl::StrCat("unexpected argument \"", argv[index], "\""));
  }
  auto publisher = client::Publisher::Create(channel, {.timeout = timeout});
  if (!publisher.ok()) return RpcFailure("connect", publisher.status());

  if (Has(flags, "--json")) {
    std::string line;
    for (int number = 1; std::getline(std::cin, line); ++number) {
      if (interrupt().interrupted()) return kInterrupted;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      v1::Event event;
      auto parsed = google::protobuf::util::JsonStringToMessage(line, &event);
      if (!parsed.ok()) {
        std::fprintf(stderr, "eventbus: stdin line %d: not an Event: %s\n",
                     number, std::string(parsed.message()).c_str());
        return kUsageError;
      }
      if (int status = PrintReceipt((*publisher)->Publish(event)); status) {
        return status;
      }
    }
    return interrupt().interrupted() ? kInterrupted : 0;
  }

  v1::Event event;
  if (auto error = EventFromFlags(flags, &event)) {
    return Usage(kPublishUsage, *error);
  }
  uint64_t count = 1;
  if (Has(flags, "--count") &&
      (!absl::SimpleAtoi(Last(flags, "--count"), &count) || count == 0)) {
    return Usage(kPublishUsage, "--count: expected a positive integer");
  }
  double rate = 0;
  if (Has(flags, "--rate") &&
      (!absl::SimpleAtod(Last(flags, "--rate"), &rate) || rate <= 0)) {
    return Usage(kPublishUsage, "--rate: expected a positive number");
  }
  const absl::Time start = absl::Now();
  for (uint64_t i = 0; i < count; ++i) {
    if (rate > 0 && !interrupt().SleepUntil(start + absl::Seconds(i / rate))) {
      return kInterrupted;
    }
    if (interrupt().interrupted()) return kInterrupted;
    if (count > 1) (*event.mutable_attributes())["n"] = absl::StrCat(i + 1);
    if (int status = PrintReceipt((*publisher)->Publish(event)); status) {
      return status;
    }
  }
  return 0;
}

int Subscribe(std::shared_ptr<grpc::Channel> channel, int argc, char** argv,
              int index) {
  Flags flags;
  if (auto error = ParseFlags(argc, argv, &index,
                              {{"--help", false},
                               {"--from-sequence", true},
                               {"--from-earliest", false},
                               {"--type", true},
                               {"--attr", true},
                               {"--name", true},
                               {"--count", true}},
                              &flags)) {
    return Usage(kSubscribeUsage, *error);
  }
  if (Has(flags, "--help")) {
    std::fputs(kSubscribeUsage, stdout);
    return 0;
  }
  if (index < argc) {
    return Usage(kSubscribeUsage,
                 absl::StrCat("unexpected argument \"", argv[index], "\""));
  }
  client::SubscriberOptions options;
  v1::SubscribeRequest& request = options.request;
  if (Has(flags, "--from-sequence") && Has(flags, "--from-earliest")) {
    return Usage(kSubscribeUsage,
                 "--from-sequence and --from-earliest exclude each other");
  }
  if (Has(flags, "--from-sequence")) {
    uint64_t sequence = 0;
    if (!absl::SimpleAtoi(Last(flags, "--from-sequence"), &sequence)) {
      return Usage(kSubscribeUsage, "--from-sequence: expected an integer");
    }
    request.set_from_sequence(sequence);
  }
  if (Has(flags, "--from-earliest")) request.set_from_earliest(true);
  if (auto it = flags.find("--type"); it != flags.end()) {
    for (const std::string& type : it->second) {
      if (type == "audit") {
        request.mutable_filter()->add_types(v1::EVENT_TYPE_AUDIT);
      } else if (type == "space_name" || type == "space-name") {
        request.mutable_filter()->add_types(v1::EVENT_TYPE_SPACE_NAME);
      } else {
        return Usage(kSubscribeUsage,
                     absl::StrCat("--type: unknown event type \"", type,
                                  "\"; audit or space_name"));
      }
    }
  }
  if (auto error = AddAttributes(
          flags, request.mutable_filter()->mutable_attributes())) {
    return Usage(kSubscribeUsage, *error);
  }
  request.set_name(Last(flags, "--name", "eventbus-cli"));
  uint64_t count = 0;
  if (Has(flags, "--count") &&
      (!absl::SimpleAtoi(Last(flags, "--count"), &count) || count == 0)) {
    return Usage(kSubscribeUsage, "--count: expected a positive integer");
  }

  auto subscriber = client::Subscriber::Start(channel, std::move(options));
  if (!subscriber.ok()) return RpcFailure("subscribe", subscriber.status());
  interrupt().Watch(subscriber->get());
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
  interrupt().Watch(nullptr);
  if (interrupt().interrupted()) return kInterrupted;
  return exit_status;
}

int Health(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout,
           int argc, char** argv, int index) {
  Flags flags;
  if (auto error =
          ParseFlags(argc, argv, &index,
                     {{"--help", false}, {"--service", true}}, &flags)) {
    return Usage(kHealthUsage, *error);
  }
  if (Has(flags, "--help")) {
    std::fputs(kHealthUsage, stdout);
    return 0;
  }
  if (index < argc) {
    return Usage(kHealthUsage,
                 absl::StrCat("unexpected argument \"", argv[index], "\""));
  }
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(Last(flags, "--service"));
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return RpcFailure(
        "health check",
        absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                     status.error_message()));
  }
  PrintLine(grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      response.status()));
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : 1;
}

// The value of `flag`, else of the environment variable `env`, else "".
std::string FlagOrEnv(const Flags& flags, const std::string& flag,
                      const char* env) {
  const char* value = std::getenv(env);
  return Last(flags, flag, value != nullptr ? value : "");
}

// The channel the global flags ask for: TLS files and the bearer token.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const Flags& flags, const std::string& server) {
  client::ChannelOptions options;
  options.server = server;
  options.tls = Has(flags, "--tls");
  options.ca_file = FlagOrEnv(flags, "--ca-file", "EVENTBUS_CA_FILE");
  options.cert_file = FlagOrEnv(flags, "--cert-file", "EVENTBUS_CERT_FILE");
  options.key_file = FlagOrEnv(flags, "--key-file", "EVENTBUS_KEY_FILE");
  if (Has(flags, "--token-file")) {
    const std::string path = Last(flags, "--token-file");
    std::ifstream file(path);
    if (!std::getline(file, options.token)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: cannot read ", path));
    }
    options.token = std::string(absl::StripAsciiWhitespace(options.token));
    if (options.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: ", path, " holds no token"));
    }
  } else if (const char* token = std::getenv("EVENTBUS_TOKEN")) {
    options.token = std::string(absl::StripAsciiWhitespace(token));
  }
  return client::CreateChannel(options);
}

int Main(int argc, char** argv) {
  Flags flags;
  int index = 1;
  if (auto error = ParseFlags(argc, argv, &index,
                              {{"--server", true},
                               {"--timeout", true},
                               {"--tls", false},
                               {"--ca-file", true},
                               {"--cert-file", true},
                               {"--key-file", true},
                               {"--token-file", true},
                               {"--help", false},
                               {"--version", false}},
                              &flags)) {
    return Usage(kUsage, *error);
  }
  if (Has(flags, "--version")) {
    std::printf("eventbus %s\n", EVENTBUS_VERSION);
    return 0;
  }
  if (Has(flags, "--help") || index >= argc) {
    if (index >= argc && !Has(flags, "--help")) {
      return Usage(kUsage, "no command given");
    }
    std::fputs(kUsage, stdout);
    return 0;
  }
  absl::Duration timeout = absl::Seconds(5);
  if (Has(flags, "--timeout") &&
      (!absl::ParseDuration(Last(flags, "--timeout"), &timeout) ||
       timeout <= absl::ZeroDuration())) {
    return Usage(kUsage, "--timeout: expected a duration such as 5s or 500ms");
  }
  const char* env_server = std::getenv("EVENTBUS_SERVER");
  const std::string server =
      Last(flags, "--server",
           env_server != nullptr && *env_server ? env_server : kDefaultServer);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel_or =
      CreateChannel(flags, server);
  if (!channel_or.ok()) {
    return Usage(kUsage, std::string(channel_or.status().message()));
  }
  std::shared_ptr<grpc::Channel> channel = *std::move(channel_or);

  const std::string command = argv[index++];
  if (command == "publish") return Publish(channel, timeout, argc, argv, index);
  if (command == "subscribe") return Subscribe(channel, argc, argv, index);
  if (command == "health") return Health(channel, timeout, argc, argv, index);
  if (command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  return Usage(kUsage, absl::StrCat("unknown command \"", command, "\""));
}

}  // namespace
}  // namespace eventbus::cli

int main(int argc, char** argv) {
  // SIGINT and SIGTERM go to one thread (sigwait), which interrupts the
  // command; block them before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    eventbus::cli::interrupt().Trigger();
  }).detach();
  return eventbus::cli::Main(argc, argv);
}

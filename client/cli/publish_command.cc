#include "client/cli/publish_command.h"

#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/flag_values.h"
#include "client/cli/interrupt.h"

namespace eventbus::cli {
namespace {

constexpr char kDescription[] =
    "Publishes one event built from flags (or --count of them), or, with\n"
    "--json, one event per line of stdin in the protobuf JSON mapping of\n"
    "eventbus.v1.Event (e.g. {\"source\":\"ci\",\"audit\":{\"username\":"
    "\"alice\",\"operation\":\"OPERATION_READ\"}}).\n"
    "Prints one JSON line per event: "
    "{\"sequence\":\"1\",\"id\":\"...\",\"subscribers\":0}.";

constexpr char kAuditGroup[] = "Audit event flags (--type audit)";
constexpr char kSpaceNameGroup[] = "Space-name event flags (--type space_name)";

// Prints the receipt as a JSON line; returns the exit status.
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

}  // namespace

PublishCommand::PublishCommand(CLI::App* parent)
    : Command(parent, "publish",
              "publish events and print what the bus assigned", kDescription) {
  CLI::App* app = this->app();
  app->add_flag("--json", json_,
                "read events from stdin, one JSON object per line");
  app->add_option("--type", type_, "audit (default) or space_name")
      ->type_name("TYPE");
  AddOptionalFlag(app, "--id", "ID", &id_,
                  "event id (default: the bus assigns a UUID)");
  AddOptionalFlag(app, "--source", "NAME", &source_, "publishing service");
  AddRepeatedFlag(app, "--attr", "KEY=VALUE", &attributes_, "an attribute");
  AddOptionalFlag(app, "--registry-type", "R", &registry_type_,
                  "the registry, for both event types: data, model,\n"
                  "experiment, audit, ..., tool");
  AddOptionalFlag(app, "--priority", "P", &priority_,
                  "low, normal or high (default: unspecified, which counts\n"
                  "as normal)");
  AddOptionalFlag(app, "--count", "N", &count_,
                  "publish N copies (attribute \"n\" numbers them)");
  AddOptionalFlag(app, "--rate", "R", &rate_,
                  "at most R events per second (with --count)");

  app->add_option("--username", username_, "the user that acted")
      ->type_name("U")
      ->group(kAuditGroup);
  app->add_option("--client-ip", client_ip_, "the client's IP address")
      ->type_name("IP")
      ->group(kAuditGroup);
  app->add_option("--user-agent", user_agent_, "the client's User-Agent header")
      ->type_name("UA")
      ->group(kAuditGroup);
  AddOptionalFlag(app, "--operation", "OP", &operation_,
                  "e.g. read, create, OPERATION_DELETE")
      ->group(kAuditGroup);
  AddOptionalFlag(app, "--resource-type", "T", &resource_type_,
                  "file, database, card, drift")
      ->group(kAuditGroup);
  app->add_option("--resource-id", resource_id_, "the resource's identifier")
      ->type_name("ID")
      ->group(kAuditGroup);
  AddOptionalFlag(app, "--access-location", "L", &access_location_,
                  "where the resource lives, e.g. a storage path")
      ->group(kAuditGroup);
  AddOptionalFlag(app, "--status", "S", &status_, "success, failed, denied")
      ->group(kAuditGroup);
  AddOptionalFlag(app, "--error-message", "M", &error_message_,
                  "error text of a failed operation")
      ->group(kAuditGroup);
  app->add_option("--metadata", metadata_, "free-form metadata, often JSON")
      ->type_name("JSON")
      ->group(kAuditGroup);
  app->add_option("--route", route_, "the HTTP route that was called")
      ->type_name("R")
      ->group(kAuditGroup);

  app->add_option("--space", space_, "the artifact's space (namespace)")
      ->type_name("S")
      ->group(kSpaceNameGroup);
  app->add_option("--name", name_, "the artifact's name")
      ->type_name("N")
      ->group(kSpaceNameGroup);
}

absl::StatusOr<v1::Event> PublishCommand::EventFromFlags() const {
  v1::Event event;
  if (id_) event.set_id(*id_);
  if (source_) event.set_source(*source_);
  if (absl::Status added =
          AddAttributes(attributes_, event.mutable_attributes());
      !added.ok()) {
    return added;
  }
  if (priority_) {
    absl::StatusOr<int> value = ParseEnumFlag(
        "--priority", *priority_, "PRIORITY_", v1::Priority_descriptor());
    if (!value.ok()) return value.status();
    event.set_priority(static_cast<v1::Priority>(*value));
  }
  int registry = 0;
  if (registry_type_) {
    absl::StatusOr<int> value =
        ParseEnumFlag("--registry-type", *registry_type_, "REGISTRY_TYPE_",
                      v1::RegistryType_descriptor());
    if (!value.ok()) return value.status();
    registry = *value;
  }
  absl::StatusOr<v1::EventType> type = ParseEventType("--type", type_);
  if (!type.ok()) return type.status();
  if (*type == v1::EVENT_TYPE_SPACE_NAME) {
    v1::SpaceNameEvent* space = event.mutable_space_name();
    space->set_space(space_);
    space->set_name(name_);
    space->set_registry_type(static_cast<v1::RegistryType>(registry));
    return event;
  }
  v1::AuditEvent* audit = event.mutable_audit();
  audit->set_username(username_);
  audit->set_client_ip(client_ip_);
  audit->set_user_agent(user_agent_);
  audit->set_resource_id(resource_id_);
  audit->set_metadata(metadata_);
  audit->set_route(route_);
  if (access_location_) audit->set_access_location(*access_location_);
  if (error_message_) audit->set_error_message(*error_message_);
  audit->set_registry_type(static_cast<v1::RegistryType>(registry));
  if (operation_) {
    absl::StatusOr<int> value = ParseEnumFlag(
        "--operation", *operation_, "OPERATION_", v1::Operation_descriptor());
    if (!value.ok()) return value.status();
    audit->set_operation(static_cast<v1::Operation>(*value));
  }
  if (resource_type_) {
    absl::StatusOr<int> value =
        ParseEnumFlag("--resource-type", *resource_type_, "RESOURCE_TYPE_",
                      v1::ResourceType_descriptor());
    if (!value.ok()) return value.status();
    audit->set_resource_type(static_cast<v1::ResourceType>(*value));
  }
  if (status_) {
    absl::StatusOr<int> value = ParseEnumFlag(
        "--status", *status_, "AUDIT_STATUS_", v1::AuditStatus_descriptor());
    if (!value.ok()) return value.status();
    audit->set_status(static_cast<v1::AuditStatus>(*value));
  }
  return event;
}

int PublishCommand::PublishJsonLines(client::Publisher* publisher) {
  Interrupt& interrupt = ProcessInterrupt();
  std::string line;
  for (int number = 1; std::getline(std::cin, line); ++number) {
    if (interrupt.interrupted()) return kInterrupted;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    v1::Event event;
    auto parsed = google::protobuf::util::JsonStringToMessage(line, &event);
    if (!parsed.ok()) {
      std::fprintf(stderr, "eventbus: stdin line %d: not an Event: %s\n",
                   number, std::string(parsed.message()).c_str());
      return kUsageError;
    }
    if (int status = PrintReceipt(publisher->Publish(event)); status != 0) {
      return status;
    }
  }
  return interrupt.interrupted() ? kInterrupted : 0;
}

int PublishCommand::Run(const Connection& connection) {
  absl::StatusOr<std::unique_ptr<client::Publisher>> publisher =
      client::Publisher::Create(connection.channel,
                                {.timeout = connection.timeout});
  if (!publisher.ok()) return RpcFailure("connect", publisher.status());
  if (json_) return PublishJsonLines(publisher->get());

  absl::StatusOr<v1::Event> event = EventFromFlags();
  if (!event.ok()) return UsageFailure(event.status());
  uint64_t count = 1;
  if (count_) {
    absl::StatusOr<uint64_t> parsed = ParsePositiveInteger("--count", *count_);
    if (!parsed.ok()) return UsageFailure(parsed.status());
    count = *parsed;
  }
  double rate = 0;
  if (rate_ && (!absl::SimpleAtod(*rate_, &rate) || !(rate > 0))) {
    return UsageFailure(
        absl::InvalidArgumentError("--rate: expected a positive number"));
  }

  Interrupt& interrupt = ProcessInterrupt();
  const absl::Time start = absl::Now();
  for (uint64_t i = 0; i < count; ++i) {
    if (rate > 0 && !interrupt.SleepUntil(start + absl::Seconds(i / rate))) {
      return kInterrupted;
    }
    if (interrupt.interrupted()) return kInterrupted;
    if (count > 1) (*event->mutable_attributes())["n"] = absl::StrCat(i + 1);
    if (int status = PrintReceipt((*publisher)->Publish(*event)); status) {
      return status;
    }
  }
  return 0;
}

}  // namespace eventbus::cli

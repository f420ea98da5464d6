#include "tests/testing/grpc_clients.h"

#include "absl/time/clock.h"

namespace eventbus::testing {

TestSubscriber::TestSubscriber(v1::EventBusService::Stub& stub,
                               const v1::SubscribeRequest& request,
                               absl::Duration timeout) {
  context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  reader_ = stub.Subscribe(&context_, request);
  reader_->WaitForInitialMetadata();
}

std::string TestSubscriber::Header(const std::string& key) const {
  const auto& metadata = context_.GetServerInitialMetadata();
  auto it = metadata.find(key);
  return it == metadata.end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

bool TestSubscriber::ReadEvents(size_t count) {
  v1::SubscribeResponse response;
  while (events_.size() < count) {
    if (!reader_->Read(&response)) return false;
    if (response.has_lagged()) lagged_.push_back(response.lagged());
    for (auto& event : *response.mutable_events()) {
      events_.push_back(std::move(event));
    }
  }
  return true;
}

grpc::Status TestSubscriber::ReadToEnd() {
  ReadEvents(SIZE_MAX);
  return reader_->Finish();
}

v1::Event FullAuditEvent() {
  v1::Event event;
  event.set_id("audit-1");
  event.set_source("opsml-server");
  (*event.mutable_attributes())["team"] = "ml";
  (*event.mutable_attributes())["env"] = "prod";
  v1::AuditEvent* audit = event.mutable_audit();
  audit->set_username("alice");
  audit->set_client_ip("10.0.0.7");
  audit->set_user_agent("opsml-client/3.0");
  audit->set_operation(v1::OPERATION_UPDATE);
  audit->set_resource_type(v1::RESOURCE_TYPE_CARD);
  audit->set_resource_id("model/credit/1.2.0");
  audit->set_access_location("s3://registry/model/credit");
  audit->set_status(v1::AUDIT_STATUS_DENIED);
  audit->set_error_message("forbidden");
  audit->set_metadata(R"({"reason":"scope"})");
  audit->set_registry_type(v1::REGISTRY_TYPE_SUB_AGENT);
  audit->set_route("/opsml/api/card/update");
  return event;
}

}  // namespace eventbus::testing

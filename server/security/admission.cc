#include "server/security/admission.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace eventbus {

Admission::Admission() {
  constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
  request_limits_ = {.max_attributes = kUnlimited,
                     .max_attribute_key_bytes = kUnlimited,
                     .max_attribute_value_bytes = kUnlimited,
                     .max_filter_size = kUnlimited,
                     .max_filter_expression_bytes = kUnlimited};
}

absl::Status Admission::AuthorizePublisher(
    const grpc::ServerContextBase& context) const {
  EVENTBUS_RETURN_IF_ERROR(CheckMetadata(context));
  const std::shared_ptr<const Authorizer> authorizer = this->authorizer();
  if (authorizer == nullptr) return absl::OkStatus();
  return authorizer->Authorize(context, Right::kPublish);
}

absl::Status Admission::AuthorizeAdmin(
    const grpc::ServerContextBase& context) const {
  EVENTBUS_RETURN_IF_ERROR(CheckMetadata(context));
  const std::shared_ptr<const Authorizer> authorizer = this->authorizer();
  if (authorizer == nullptr) return absl::OkStatus();
  return authorizer->Authorize(context, Right::kAdmin);
}

void Admission::ReplaceAuthorizer(
    std::shared_ptr<const Authorizer> authorizer) const {
  if (authorizer_ != nullptr) authorizer_->Set(std::move(authorizer));
}

std::shared_ptr<const Authorizer> Admission::authorizer() const {
  return authorizer_ != nullptr ? authorizer_->Get() : nullptr;
}

absl::Status Admission::AdmitEvent(std::string_view peer,
                                   const v1::Event& event) const {
  if (peer_limits_ != nullptr) {
    EVENTBUS_RETURN_IF_ERROR(peer_limits_->AdmitPublish(peer));
  }
  return CheckEventLimits(event, request_limits_);
}

absl::Status Admission::AdmitEvent(const grpc::ServerContextBase& context,
                                   const v1::Event& event) const {
  return AdmitEvent(
      peer_limits_ == nullptr ? "" : PeerLimits::PeerOf(context.peer()), event);
}

absl::Status Admission::CheckMetadata(
    const grpc::ServerContextBase& context) const {
  // As HTTP/2 counts a header list (RFC 9113, SETTINGS_MAX_HEADER_LIST_SIZE).
  uint64_t size = 0;
  for (const auto& [name, value] : context.client_metadata()) {
    size += name.size() + value.size() + 32;
  }
  if (size <= request_limits_.max_metadata_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("the request metadata is ", size,
                   " bytes, over the limit limits.max_metadata_bytes = ",
                   request_limits_.max_metadata_bytes));
}

absl::StatusOr<PeerLimits::Lease> Admission::AdmitSubscriber(
    const grpc::ServerContextBase& context) const {
  EVENTBUS_RETURN_IF_ERROR(CheckMetadata(context));
  if (const std::shared_ptr<const Authorizer> authorizer = this->authorizer();
      authorizer != nullptr) {
    EVENTBUS_RETURN_IF_ERROR(authorizer->Authorize(context, Right::kSubscribe));
  }
  if (peer_limits_ == nullptr) return PeerLimits::Lease();
  return peer_limits_->AcquireSubscriber(PeerLimits::PeerOf(context.peer()));
}

absl::Status Admission::CheckFilter(const v1::EventFilter& filter) const {
  return CheckFilterLimits(filter, request_limits_);
}

}  // namespace eventbus

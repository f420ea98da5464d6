#include "server/security/admission.h"

#include <cstdint>
#include <limits>
#include <string>

#include "base/status_macros.h"

namespace eventbus {

Admission::Admission() {
  constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
  request_limits_ = {.max_attributes = kUnlimited,
                     .max_attribute_key_bytes = kUnlimited,
                     .max_attribute_value_bytes = kUnlimited,
                     .max_filter_size = kUnlimited};
}

absl::Status Admission::AuthorizePublisher(
    const grpc::ServerContextBase& context) const {
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->Authorize(context, Right::kPublish);
}

absl::Status Admission::AdmitEvent(std::string_view peer,
                                   const v1::Event& event) const {
  if (peer_limits_ != nullptr) {
    EVENTBUS_RETURN_IF_ERROR(peer_limits_->AdmitPublish(peer));
  }
  return CheckEventLimits(event, request_limits_);
}

absl::StatusOr<PeerLimits::Lease> Admission::AdmitSubscriber(
    const grpc::ServerContextBase& context) const {
  if (authorizer_ != nullptr) {
    EVENTBUS_RETURN_IF_ERROR(
        authorizer_->Authorize(context, Right::kSubscribe));
  }
  if (peer_limits_ == nullptr) return PeerLimits::Lease();
  return peer_limits_->AcquireSubscriber(PeerLimits::PeerOf(context.peer()));
}

absl::Status Admission::CheckFilter(const v1::EventFilter& filter) const {
  return CheckFilterLimits(filter, request_limits_);
}

}  // namespace eventbus

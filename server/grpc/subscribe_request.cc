#include "server/grpc/subscribe_request.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "base/status_macros.h"
#include "server/bus/event_matcher.h"

namespace eventbus {

absl::StatusOr<v1::SubscribeRequest> ParseSubscribeRequest(
    const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  v1::SubscribeRequest request;
  if (!buffer.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("cannot read the SubscribeRequest");
  }
  std::string bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (!request.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        "the request is not a valid eventbus.v1.SubscribeRequest");
  }
  return request;
}

absl::StatusOr<SubscribeOptions> SubscribeOptionsFromRequest(
    const v1::SubscribeRequest& request) {
  SubscribeOptions options;
  switch (request.start_case()) {
    case v1::SubscribeRequest::kFromSequence:
      options.start = SubscribeOptions::Start::kSequence;
      options.from_sequence = request.from_sequence();
      break;
    case v1::SubscribeRequest::kFromEarliest:
      if (request.from_earliest()) {
        options.start = SubscribeOptions::Start::kEarliest;
      }
      break;
    case v1::SubscribeRequest::START_NOT_SET:
      break;
  }
  EVENTBUS_ASSIGN_OR_RETURN(options.matcher,
                            EventMatcher::Create(request.filter()));
  options.name = request.name();
  return options;
}

}  // namespace eventbus

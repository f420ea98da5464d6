#include "server/grpc/subscribe_request.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/bus/event_matcher.h"
#include "server/grpc/raw_message.h"

namespace eventbus {

absl::StatusOr<v1::SubscribeRequest> ParseSubscribeRequest(
    const grpc::ByteBuffer& buffer) {
  v1::SubscribeRequest request;
  EVENTBUS_RETURN_IF_ERROR(ParseRawMessage(buffer, "the request", &request));
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
  switch (request.overflow()) {
    case v1::OVERFLOW_UNSPECIFIED:
    case v1::OVERFLOW_DROP_OLDEST:
      options.overflow = Overflow::kDropOldest;
      break;
    case v1::OVERFLOW_BLOCK:
      options.overflow = Overflow::kBlock;
      break;
    case v1::OVERFLOW_DISCONNECT:
      options.overflow = Overflow::kDisconnect;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("SubscribeRequest.overflow ", request.overflow(),
                       " is not a value of eventbus.v1.Overflow (0 to 3)"));
  }
  options.name = request.name();
  options.filter = request.filter();
  return options;
}

}  // namespace eventbus

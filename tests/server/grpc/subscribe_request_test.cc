// The adapter from the wire's SubscribeRequest to the bus's options.
#include "server/grpc/subscribe_request.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace eventbus {
namespace {

using ::eventbus::testing::StatusIs;

TEST(SubscribeRequestTest, OptionsFromRequest) {
  v1::SubscribeRequest request;
  request.set_name("monitor");
  EXPECT_EQ(SubscribeOptionsFromRequest(request)->start,
            SubscribeOptions::Start::kNext);
  EXPECT_EQ(SubscribeOptionsFromRequest(request)->name, "monitor");
  request.set_from_earliest(true);
  EXPECT_EQ(SubscribeOptionsFromRequest(request)->start,
            SubscribeOptions::Start::kEarliest);
  request.set_from_sequence(7);
  auto options = SubscribeOptionsFromRequest(request);
  EXPECT_EQ(options->start, SubscribeOptions::Start::kSequence);
  EXPECT_EQ(options->from_sequence, 7u);
  request.mutable_filter()->add_types(static_cast<v1::EventType>(3));
  EXPECT_THAT(SubscribeOptionsFromRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SubscribeRequestTest, OverflowPolicies) {
  v1::SubscribeRequest request;
  EXPECT_EQ(SubscribeOptionsFromRequest(request)->overflow,
            Overflow::kDropOldest);
  request.set_overflow(v1::OVERFLOW_DROP_OLDEST);
  EXPECT_EQ(SubscribeOptionsFromRequest(request)->overflow,
            Overflow::kDropOldest);
  request.set_overflow(v1::OVERFLOW_BLOCK);
  EXPECT_EQ(SubscribeOptionsFromRequest(request)->overflow, Overflow::kBlock);
  request.set_overflow(v1::OVERFLOW_DISCONNECT);
  EXPECT_EQ(SubscribeOptionsFromRequest(request)->overflow,
            Overflow::kDisconnect);
  request.set_overflow(static_cast<v1::Overflow>(4));
  EXPECT_THAT(SubscribeOptionsFromRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("SubscribeRequest.overflow 4")));
}

TEST(SubscribeRequestTest, ParsesTheRawRequest) {
  v1::SubscribeRequest request;
  request.set_name("monitor");
  request.set_from_sequence(3);
  const std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  const grpc::ByteBuffer buffer(&slice, 1);
  absl::StatusOr<v1::SubscribeRequest> parsed = ParseSubscribeRequest(buffer);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->name(), "monitor");
  EXPECT_EQ(parsed->from_sequence(), 3u);
}

TEST(SubscribeRequestTest, RefusesBytesThatAreNotARequest) {
  grpc::Slice slice(std::string("\xff\xff\xff"));
  const grpc::ByteBuffer buffer(&slice, 1);
  absl::StatusOr<v1::SubscribeRequest> parsed = ParseSubscribeRequest(buffer);
  EXPECT_THAT(parsed,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr(
                           "not a valid eventbus.v1.SubscribeRequest")));
}

}  // namespace
}  // namespace eventbus

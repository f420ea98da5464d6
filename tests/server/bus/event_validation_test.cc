#include "server/bus/event_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/bus/bus_test_util.h"
#include "tests/testing/status_matchers.h"

namespace eventbus {
namespace {

using ::eventbus::testing::AuditEvent;
using ::eventbus::testing::SpaceNameEvent;
using ::eventbus::testing::StatusIs;

TEST(EventValidationTest, AcceptsEitherPayload) {
  EXPECT_TRUE(ValidateEvent(AuditEvent()).ok());
  EXPECT_TRUE(ValidateEvent(SpaceNameEvent()).ok());
}

TEST(EventValidationTest, NoPayloadIsInvalid) {
  EXPECT_EQ(ValidateEvent(v1::Event()),
            absl::InvalidArgumentError("event has no payload: set exactly "
                                       "one of `audit` or `space_name`"));
}

TEST(EventValidationTest, EnumOutsideItsEnumIsInvalid) {
  v1::Event event = AuditEvent();
  event.mutable_audit()->set_operation(static_cast<v1::Operation>(13));
  EXPECT_EQ(ValidateEvent(event),
            absl::InvalidArgumentError("event.audit.operation: 13 is not a "
                                       "value of eventbus.v1.Operation"));
  event = AuditEvent();
  event.mutable_audit()->set_resource_type(static_cast<v1::ResourceType>(-1));
  EXPECT_THAT(ValidateEvent(event),
              StatusIs(absl::StatusCode::kInvalidArgument));
  event = AuditEvent();
  event.mutable_audit()->set_status(static_cast<v1::AuditStatus>(4));
  EXPECT_THAT(ValidateEvent(event),
              StatusIs(absl::StatusCode::kInvalidArgument));
  event = AuditEvent();
  event.mutable_audit()->set_registry_type(static_cast<v1::RegistryType>(19));
  EXPECT_THAT(ValidateEvent(event),
              StatusIs(absl::StatusCode::kInvalidArgument));
  event = SpaceNameEvent();
  event.mutable_space_name()->set_registry_type(
      static_cast<v1::RegistryType>(100));
  EXPECT_EQ(ValidateEvent(event),
            absl::InvalidArgumentError(
                "event.space_name.registry_type: 100 is not a value of "
                "eventbus.v1.RegistryType"));
}

}  // namespace
}  // namespace eventbus

#include "server/bus/event_validation.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>

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
  event = AuditEvent();
  event.set_priority(static_cast<v1::Priority>(4));
  EXPECT_EQ(ValidateEvent(event),
            absl::InvalidArgumentError(
                "event.priority: 4 is not a value of eventbus.v1.Priority"));
  event.set_priority(v1::PRIORITY_HIGH);
  EXPECT_TRUE(ValidateEvent(event).ok());
}

// Sets every string field of `message` (and of the payload messages below
// it), one at a time, to bytes that are not UTF-8, and expects `root` to be
// refused naming that field: a string field added to the proto later is
// covered without a change here.
void ExpectEveryStringFieldChecked(v1::Event* root,
                                   google::protobuf::Message* message,
                                   const std::string& prefix) {
  const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
  const google::protobuf::Reflection* reflection = message->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    const std::string name = prefix + field->name();
    if (field->is_map()) {
      (*root->mutable_attributes())["k"] = "\xff";
      EXPECT_THAT(ValidateEvent(*root),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           "event.attributes[\"k\"] is not valid UTF-8"));
      root->mutable_attributes()->clear();
      (*root->mutable_attributes())["\xff"] = "v";
      EXPECT_THAT(ValidateEvent(*root),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           "event.attributes (a key) is not valid UTF-8"));
      root->mutable_attributes()->clear();
    } else if (field->type() ==
               google::protobuf::FieldDescriptor::TYPE_STRING) {
      reflection->SetString(message, field, "ok \xc3(");
      EXPECT_THAT(ValidateEvent(*root),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           "event." + name + " is not valid UTF-8"));
      reflection->ClearField(message, field);
    } else if (field->type() ==
                   google::protobuf::FieldDescriptor::TYPE_MESSAGE &&
               field->containing_oneof() != nullptr) {
      ExpectEveryStringFieldChecked(
          root, reflection->MutableMessage(message, field), name + ".");
    }
  }
}

TEST(EventValidationTest, EveryStringFieldMustBeUtf8) {
  v1::Event audit = AuditEvent();
  ExpectEveryStringFieldChecked(&audit, &audit, "");
  v1::Event space_name = SpaceNameEvent();
  ExpectEveryStringFieldChecked(&space_name, &space_name, "");
}

}  // namespace
}  // namespace eventbus

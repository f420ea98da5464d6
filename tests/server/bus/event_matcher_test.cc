#include "server/bus/event_matcher.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/bus/bus_test_util.h"
#include "tests/testing/status_matchers.h"

namespace eventbus {
namespace {

using ::eventbus::testing::AuditEvent;
using ::eventbus::testing::SpaceNameEvent;
using ::eventbus::testing::StatusIs;

TEST(EventMatcherTest, EmptyFilterMatchesEverything) {
  EventMatcher matcher = *EventMatcher::Create(v1::EventFilter());
  EXPECT_TRUE(matcher.MatchesAll());
  EXPECT_TRUE(matcher.Matches(AuditEvent()));
  EXPECT_TRUE(matcher.Matches(SpaceNameEvent()));
}

TEST(EventMatcherTest, TypesAreAnyOf) {
  v1::EventFilter filter;
  filter.add_types(v1::EVENT_TYPE_AUDIT);
  EventMatcher audit_only = *EventMatcher::Create(filter);
  EXPECT_TRUE(audit_only.Matches(AuditEvent()));
  EXPECT_FALSE(audit_only.Matches(SpaceNameEvent()));
  filter.add_types(v1::EVENT_TYPE_SPACE_NAME);
  EXPECT_TRUE(EventMatcher::Create(filter)->Matches(SpaceNameEvent()));
}

TEST(EventMatcherTest, AttributesMustAllBeEqual) {
  v1::EventFilter filter;
  (*filter.mutable_attributes())["team"] = "ml";
  (*filter.mutable_attributes())["env"] = "prod";
  EventMatcher matcher = *EventMatcher::Create(filter);
  v1::Event event = AuditEvent();
  (*event.mutable_attributes())["team"] = "ml";
  EXPECT_FALSE(matcher.Matches(event));
  (*event.mutable_attributes())["env"] = "dev";
  EXPECT_FALSE(matcher.Matches(event));
  (*event.mutable_attributes())["env"] = "prod";
  (*event.mutable_attributes())["extra"] = "x";
  EXPECT_TRUE(matcher.Matches(event));
}

TEST(EventMatcherTest, UnknownTypeIsInvalidArgument) {
  v1::EventFilter filter;
  filter.add_types(static_cast<v1::EventType>(7));
  EXPECT_EQ(EventMatcher::Create(filter).status(),
            absl::InvalidArgumentError(
                "filter.types[0]: 7 is not an event type (use "
                "EVENT_TYPE_AUDIT = 1 or EVENT_TYPE_SPACE_NAME = 2)"));
}

TEST(EventMatcherTest, UnspecifiedTypeIsInvalidArgument) {
  v1::EventFilter filter;
  filter.add_types(v1::EVENT_TYPE_AUDIT);
  filter.add_types(v1::EVENT_TYPE_UNSPECIFIED);
  EXPECT_THAT(EventMatcher::Create(filter),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EventMatcherTest, TheExpressionIsAndedWithTypesAndAttributes) {
  v1::EventFilter filter;
  filter.add_types(v1::EVENT_TYPE_AUDIT);
  (*filter.mutable_attributes())["team"] = "ml";
  filter.set_expression("audit.username.startsWith(\"a\")");
  const absl::StatusOr<EventMatcher> matcher = EventMatcher::Create(filter);
  ASSERT_TRUE(matcher.ok()) << matcher.status();
  EXPECT_FALSE(matcher->MatchesAll());
  v1::Event event = AuditEvent();
  event.mutable_audit()->set_username("alice");
  EXPECT_FALSE(matcher->Matches(event));  // no team attribute
  (*event.mutable_attributes())["team"] = "ml";
  EXPECT_TRUE(matcher->Matches(event));
  event.mutable_audit()->set_username("bob");
  EXPECT_FALSE(matcher->Matches(event));

  v1::EventFilter only_expression;
  only_expression.set_expression("true");
  EXPECT_FALSE(EventMatcher::Create(only_expression)->MatchesAll());
}

TEST(EventMatcherTest, AnExpressionThatDoesNotCompileNamesTheField) {
  v1::EventFilter filter;
  filter.set_expression("audit.status == \"DENIED\"");
  EXPECT_EQ(EventMatcher::Create(filter).status(),
            absl::InvalidArgumentError(
                "filter.expression: column 17: expected an "
                "eventbus.v1.AuditStatus name in quotes after \"==\" "
                "(AUDIT_STATUS_UNSPECIFIED, AUDIT_STATUS_SUCCESS, "
                "AUDIT_STATUS_FAILED, AUDIT_STATUS_DENIED), got the string "
                "\"DENIED\""));
}

}  // namespace
}  // namespace eventbus

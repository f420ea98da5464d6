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

}  // namespace
}  // namespace eventbus

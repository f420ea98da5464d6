#include "server/security/admission.h"

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace eventbus {
namespace {

using ::eventbus::testing::StatusIs;

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

v1::Event EventWithAttributes(int count, size_t key_bytes = 3,
                              size_t value_bytes = 5) {
  v1::Event event;
  event.mutable_space_name()->set_space("s");
  for (int i = 0; i < count; ++i) {
    std::string key = std::to_string(i);
    key.resize(std::max(key.size(), key_bytes), 'k');
    (*event.mutable_attributes())[key] = std::string(value_bytes, 'v');
  }
  return event;
}

Admission WithLimits(RequestLimits limits,
                     std::shared_ptr<PeerLimits> peers = nullptr) {
  return Admission(nullptr, std::move(peers), limits);
}

TEST(AdmissionTest, DefaultAdmitsEverything) {
  const Admission admission;
  EXPECT_TRUE(
      admission.AdmitEvent("p", EventWithAttributes(1000, 5000, 70000)).ok());
  v1::EventFilter filter;
  for (int i = 0; i < 1000; ++i) filter.add_types(v1::EVENT_TYPE_AUDIT);
  EXPECT_TRUE(admission.CheckFilter(filter).ok());
}

TEST(AdmissionTest, AttributeLimitsNameTheirKey) {
  const Admission admission = WithLimits({.max_attributes = 4,
                                          .max_attribute_key_bytes = 8,
                                          .max_attribute_value_bytes = 16,
                                          .max_filter_size = 2});
  EXPECT_TRUE(admission.AdmitEvent("p", EventWithAttributes(4, 8, 16)).ok());
  EXPECT_EQ(admission.AdmitEvent("p", EventWithAttributes(5)),
            Invalid("event has 5 attributes, over limits.max_attributes (4)"));
  EXPECT_EQ(admission.AdmitEvent("p", EventWithAttributes(1, 9)),
            Invalid("event.attributes: a key of 9 bytes is over "
                    "limits.max_attribute_key_bytes (8)"));
  EXPECT_EQ(admission.AdmitEvent("p", EventWithAttributes(1, 3, 17)),
            Invalid("event.attributes: a value of 17 bytes is over "
                    "limits.max_attribute_value_bytes (16)"));
}

TEST(AdmissionTest, FilterLimitsNameTheirKey) {
  const Admission admission = WithLimits({.max_attributes = 4,
                                          .max_attribute_key_bytes = 8,
                                          .max_attribute_value_bytes = 16,
                                          .max_filter_size = 2});
  v1::EventFilter filter;
  filter.add_types(v1::EVENT_TYPE_AUDIT);
  (*filter.mutable_attributes())["team"] = "ml";
  EXPECT_TRUE(admission.CheckFilter(filter).ok());
  filter.add_types(v1::EVENT_TYPE_SPACE_NAME);
  EXPECT_EQ(admission.CheckFilter(filter),
            Invalid("filter has 3 event types and attributes, over "
                    "limits.max_filter_size (2)"));
  filter.clear_types();
  (*filter.mutable_attributes())["team"] = std::string(17, 'x');
  EXPECT_EQ(admission.CheckFilter(filter),
            Invalid("filter.attributes: a value of 17 bytes is over "
                    "limits.max_attribute_value_bytes (16)"));
  filter.clear_attributes();
  (*filter.mutable_attributes())[std::string(9, 'k')] = "v";
  EXPECT_EQ(admission.CheckFilter(filter),
            Invalid("filter.attributes: a key of 9 bytes is over "
                    "limits.max_attribute_key_bytes (8)"));
}

TEST(AdmissionTest, ExpressionLengthNamesItsKey) {
  const Admission admission = WithLimits({.max_filter_expression_bytes = 12});
  v1::EventFilter filter;
  filter.set_expression("source == \"a\"");  // 13 bytes
  EXPECT_EQ(admission.CheckFilter(filter),
            Invalid("filter.expression is 13 bytes, over "
                    "limits.max_filter_expression_bytes (12)"));
  filter.set_expression("source == \"\"");
  EXPECT_TRUE(admission.CheckFilter(filter).ok());
}

TEST(AdmissionTest, RateComesBeforeTheEventLimits) {
  const Admission admission = WithLimits(
      {.max_attributes = 1},
      PeerLimits::Create({.publish_rate = 1, .publish_burst = 1, .clock = [] {
                            return absl::UnixEpoch();
                          }}));
  EXPECT_THAT(admission.AdmitEvent("p", EventWithAttributes(2)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(admission.AdmitEvent("p", EventWithAttributes(2)),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace eventbus

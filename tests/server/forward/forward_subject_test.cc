// ScanForwardFields against a full parse, and SubjectTemplate.
#include "server/forward/forward_subject.h"

#include <string>
#include <vector>

#include "eventbus/v1/eventbus.pb.h"
#include "gtest/gtest.h"

namespace eventbus {
namespace {

std::vector<v1::Event> Events() {
  std::vector<v1::Event> events(6);
  events[0].set_id("a1");
  events[0].set_source("opsml-1");
  events[0].mutable_audit()->set_username("alice");
  events[1].set_sequence(123456789);
  events[1].mutable_publish_time()->set_seconds(1796688804);
  events[1].set_id("9e3c-…");
  events[1].set_source("ünïcode source.with dots");
  (*events[1].mutable_attributes())["k"] = "v";
  (*events[1].mutable_attributes())["id"] = "not the id";
  events[1].set_priority(v1::PRIORITY_HIGH);
  events[1].mutable_space_name()->set_space("s");
  events[2].mutable_audit();  // empty payload, no id or source
  events[3].set_source(std::string(5000, 's'));
  events[3].set_id(std::string(300, 'i'));
  events[3].mutable_audit()->set_resource_id(std::string(70000, 'r'));
  events[4].set_id("only-id");  // no payload
  events[5].set_source("x");
  events[5].mutable_space_name();
  return events;
}

TEST(ScanForwardFieldsTest, ReadsWhatAParseReads) {
  for (const v1::Event& event : Events()) {
    const std::string encoded = event.SerializeAsString();
    ForwardFields fields;
    ASSERT_TRUE(ScanForwardFields(encoded, &fields)) << event.DebugString();
    EXPECT_EQ(fields.id, event.id());
    EXPECT_EQ(fields.source, event.source());
    EXPECT_EQ(fields.audit, event.has_audit());
  }
}

TEST(ScanForwardFieldsTest, TheLastOccurrenceWinsAsInAParse) {
  v1::Event first;
  first.set_id("first");
  first.set_source("one");
  first.mutable_audit();
  v1::Event second;
  second.set_id("second");
  second.mutable_space_name();
  // Concatenated encodings parse as one merged message.
  const std::string encoded =
      first.SerializeAsString() + second.SerializeAsString();
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(encoded));
  ForwardFields fields;
  ASSERT_TRUE(ScanForwardFields(encoded, &fields));
  EXPECT_EQ(fields.id, parsed.id());
  EXPECT_EQ(fields.source, parsed.source());
  EXPECT_EQ(fields.audit, parsed.has_audit());
  EXPECT_FALSE(fields.audit);
}

TEST(ScanForwardFieldsTest, RefusesWhatIsNotAnEncoding) {
  const std::string encoded = Events()[1].SerializeAsString();
  ForwardFields fields;
  // Cut anywhere inside a field, the encoding is not one.
  for (size_t cut : {size_t{1}, encoded.size() / 2, encoded.size() - 1}) {
    v1::Event parsed;
    const std::string_view prefix(encoded.data(), cut);
    if (!parsed.ParseFromArray(prefix.data(), static_cast<int>(cut))) {
      EXPECT_FALSE(ScanForwardFields(prefix, &fields)) << cut;
    }
  }
  EXPECT_FALSE(ScanForwardFields(std::string("\x1a\x7f", 2), &fields));
  EXPECT_FALSE(
      ScanForwardFields(std::string("\x1a\xff\xff\xff\xff\x0f", 6), &fields));
  // Field number 0, and a length of 2^32 (a 32-bit read would see 0).
  EXPECT_FALSE(ScanForwardFields(std::string("\x02\x00", 2), &fields));
  EXPECT_FALSE(
      ScanForwardFields(std::string("\x1a\x80\x80\x80\x80\x10", 6), &fields));
  EXPECT_TRUE(ScanForwardFields("", &fields));
}

TEST(SubjectTemplateTest, ReplacesThePlaceholders) {
  EXPECT_EQ(
      SubjectTemplate("eventbus.{source}.{type}").Render("opsml", "audit"),
      "eventbus.opsml.audit");
  EXPECT_EQ(SubjectTemplate("eventbus.{source}.{type}")
                .Render("a.b c*>", "space_name"),
            "eventbus.a_b_c__.space_name");
  EXPECT_EQ(SubjectTemplate("x.{type}.{source}.{type}").Render("", "audit"),
            "x.audit._.audit");
  EXPECT_EQ(SubjectTemplate("audit.all").Render("s", "audit"), "audit.all");
  EXPECT_EQ(SubjectTemplate("a.{sourc}.{type}").Render("s", "audit"),
            "a.{sourc}.audit");
}

}  // namespace
}  // namespace eventbus

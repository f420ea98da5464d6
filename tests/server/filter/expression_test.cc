#include "server/filter/expression.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/filter/paths.h"

namespace eventbus {
namespace {

v1::Event DeniedDelete() {
  v1::Event event;
  event.set_sequence(7);
  event.set_id("0b7c5e0e-0000-4000-8000-000000000007");
  event.set_source("opsml-server");
  event.set_priority(v1::PRIORITY_HIGH);
  (*event.mutable_attributes())["team"] = "ml";
  (*event.mutable_attributes())["env"] = "prod";
  v1::AuditEvent* audit = event.mutable_audit();
  audit->set_username("alice");
  audit->set_operation(v1::OPERATION_DELETE);
  audit->set_status(v1::AUDIT_STATUS_DENIED);
  audit->set_registry_type(v1::REGISTRY_TYPE_MODEL);
  audit->set_resource_type(v1::RESOURCE_TYPE_CARD);
  audit->set_resource_id("model/churn");
  audit->set_route("/opsml/api/card/delete");
  audit->set_access_location("s3://bucket/models/churn");
  audit->set_error_message("");
  return event;
}

v1::Event SuccessfulRead() {
  v1::Event event;
  event.set_sequence(8);
  event.set_source("opsml-server");
  event.set_priority(v1::PRIORITY_LOW);
  (*event.mutable_attributes())["team"] = "data";
  v1::AuditEvent* audit = event.mutable_audit();
  audit->set_username("bob");
  audit->set_operation(v1::OPERATION_READ);
  audit->set_status(v1::AUDIT_STATUS_SUCCESS);
  audit->set_registry_type(v1::REGISTRY_TYPE_DATA);
  audit->set_route("/opsml/api/data/read");
  return event;
}

v1::Event SpaceName() {
  v1::Event event;
  event.set_sequence(9);
  event.set_source("opsml-ui");
  v1::SpaceNameEvent* space_name = event.mutable_space_name();
  space_name->set_space("ml");
  space_name->set_name("churn");
  space_name->set_registry_type(v1::REGISTRY_TYPE_MODEL);
  return event;
}

struct Case {
  std::string expression;
  // Whether DeniedDelete(), SuccessfulRead() and SpaceName() pass.
  bool denied_delete;
  bool successful_read;
  bool space_name;
};

TEST(FilterExpressionTest, MatchesAsTheTableSays) {
  const std::vector<Case> cases = {
      // Audit use: denied or failed writes, deletes by a user, a registry.
      {R"(audit.status in ["AUDIT_STATUS_DENIED", "AUDIT_STATUS_FAILED"] &&
          audit.operation in ["OPERATION_CREATE", "OPERATION_WRITE",
                              "OPERATION_UPDATE", "OPERATION_DELETE"])",
       true, false, false},
      {R"(audit.operation == "OPERATION_DELETE" && audit.username == "alice")",
       true, false, false},
      {R"(audit.registry_type == "REGISTRY_TYPE_MODEL")", true, false, false},
      {R"(space_name.registry_type == "REGISTRY_TYPE_MODEL")", false, false,
       true},
      // Paths.
      {R"(type == "audit")", true, true, false},
      {R"(type == "space_name")", false, false, true},
      {R"(source == "opsml-server")", true, true, false},
      {R"(id == "0b7c5e0e-0000-4000-8000-000000000007")", true, false, false},
      {"sequence == 8", false, true, false},
      {"sequence >= 8", false, true, true},
      {"sequence < 8", true, false, false},
      {"sequence <= 7 || sequence > 8", true, false, true},
      {"sequence != 8", true, false, true},
      {"sequence > -1", true, true, true},
      {R"(priority == "PRIORITY_HIGH")", true, false, false},
      // An unspecified priority counts as NORMAL.
      {R"(priority == "PRIORITY_NORMAL")", false, false, true},
      {R"(priority == "PRIORITY_UNSPECIFIED")", false, false, false},
      {"priority == 2", false, false, true},
      {"priority == 1", false, true, false},
      {R"(attributes["team"] == "ml")", true, false, false},
      {R"(attributes.team == "data")", false, true, false},
      {R"(attributes['env'] == 'prod')", true, false, false},
      {R"(audit.resource_type == "RESOURCE_TYPE_CARD")", true, false, false},
      {R"(audit.resource_id == "model/churn")", true, false, false},
      {R"(audit.client_ip == "")", true, true, false},
      {R"(audit.user_agent == "")", true, true, false},
      {R"(audit.metadata == "")", true, true, false},
      {R"(space_name.space == "ml" && space_name.name == "churn")", false,
       false, true},
      // Missing values: every comparison is false, != too.
      {R"(attributes.env != "dev")", true, false, false},
      {R"(!(attributes.env == "dev"))", true, true, true},
      {R"(audit.username != "carol")", true, true, false},
      {R"(audit.access_location != "")", true, false, false},
      {R"(audit.error_message == "")", true, false, false},
      {R"(audit.access_location.startsWith("s3://"))", true, false, false},
      {R"(attributes.owner.contains(""))", false, false, false},
      // has().
      {"has(audit)", true, true, false},
      {"has(space_name)", false, false, true},
      {"has(attributes)", true, true, false},
      {"has(attributes.env)", true, false, false},
      {R"(has(attributes["team"]))", true, true, false},
      {"has(audit.access_location)", true, false, false},
      {"has(audit.error_message)", true, false, false},
      {"has(audit.username)", true, true, false},
      {"has(audit.client_ip)", false, false, false},
      {"has(audit.operation)", true, true, false},
      {"has(priority)", true, true, true},
      {"has(source) && has(sequence) && has(type)", true, true, true},
      {"!has(attributes.env) || attributes.env != \"prod\"", false, true, true},
      // `in`.
      {R"("env" in attributes)", true, false, false},
      {R"(!("team" in attributes))", false, false, true},
      {R"(audit.username in ["alice", "carol"])", true, false, false},
      {"sequence in [1, 8, 9]", false, true, true},
      {"sequence in []", false, false, false},
      {R"(audit.status in [3, "AUDIT_STATUS_SUCCESS"])", true, true, false},
      // Functions.
      {R"(audit.route.startsWith("/opsml/api/card"))", true, false, false},
      {R"(audit.route.endsWith("/read"))", false, true, false},
      {R"(audit.route.contains("data"))", false, true, false},
      {R"(source.matches("^opsml-(server|ui)$"))", true, true, true},
      {R"(audit.username.matches(r"^[a-b]"))", true, true, false},
      {R"(audit.username.matches("^al"))", true, false, false},
      {R"(audit.route.startsWith(attributes.prefix))", false, false, false},
      {R"("opsml-server-1".startsWith(source))", true, true, false},
      // Strings compare by bytes; escapes.
      {R"(audit.username < "b")", true, false, false},
      {R"(audit.username >= "b")", false, true, false},
      {R"(audit.route == "\x2Fopsml\u002Fapi/data/read")", false, true, false},
      {R"(source == "opsml\x2dui")", false, false, true},
      // Logic and literals.
      {"true", true, true, true},
      {"false", false, false, false},
      {"!true || false", false, false, false},
      {R"((type == "audit") == true)", true, true, false},
      {R"((type == "audit") != (sequence == 8))", true, false, false},
      {R"(!!has(audit) && (sequence == 7 || (sequence == 9)))", true, false,
       false},
      {R"(audit.status == audit.status)", true, true, false},
      {"  sequence\n==\t9  ", false, false, true},
  };
  const v1::Event events[] = {DeniedDelete(), SuccessfulRead(), SpaceName()};
  for (const Case& c : cases) {
    const absl::StatusOr<FilterExpression> expression =
        FilterExpression::Compile(c.expression);
    ASSERT_TRUE(expression.ok()) << c.expression << ": " << expression.status();
    EXPECT_EQ(expression->Matches(events[0]), c.denied_delete) << c.expression;
    EXPECT_EQ(expression->Matches(events[1]), c.successful_read)
        << c.expression;
    EXPECT_EQ(expression->Matches(events[2]), c.space_name) << c.expression;
  }
}

TEST(FilterExpressionTest, RefusesWithTheColumnAndWhatWasExpected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // Syntax.
      {"",
       "column 1: expected a path, a literal or \"(\", got the end of "
       "the expression"},
      {"sequence ==",
       "column 12: expected a path, a literal or \"(\", got "
       "the end of the expression"},
      {"(sequence == 1",
       "column 15: expected \")\", got the end of the "
       "expression"},
      {"sequence == 1 sequence",
       "column 15: expected \"&&\", \"||\" or the "
       "end of the expression, got \"sequence\""},
      {"sequence = 1", "column 10: expected \"==\", got \"=\""},
      {"has(audit) & true", "column 12: expected \"&&\", got \"&\""},
      {"has(audit) | true", "column 12: expected \"||\", got \"|\""},
      {"sequence == 1 ; true",
       "column 15: expected an operand or an "
       "operator, got \";\""},
      {"source == \"abc",
       "column 11: expected the closing \" of this "
       "string"},
      {"source == 'abc", "column 11: expected the closing ' of this string"},
      {R"(source == "a\qb")",
       "column 13: expected an escape: \\\\, \\\", "
       "\\', \\n, \\r, \\t, \\xHH or \\uHHHH"},
      {R"(source == "\u12")",
       "column 12: expected four hex digits after "
       "\\u"},
      {R"(source == "\ud800")",
       "column 12: expected a character, got a "
       "UTF-16 surrogate"},
      {"sequence == 12abc",
       "column 15: expected an operator or a space "
       "after the integer"},
      {"sequence == 9223372036854775808",
       "column 13: expected an integer "
       "within 64 bits (signed)"},
      {"sequence == 99999999999999999999",
       "column 13: expected an integer "
       "within 64 bits (signed)"},
      {"sequence == -source",
       "column 14: expected an integer after \"-\", "
       "got \"source\""},
      {"sequence == null",
       "column 13: null is not supported: test for a "
       "missing value with has()"},
      {"sequence in [1, 2",
       "column 18: expected \",\" or \"]\", got the end "
       "of the expression"},
      {"sequence in 1",
       "column 13: expected a list such as [\"a\", \"b\"] "
       "or attributes after \"in\", got the integer 1"},
      {"[1] == sequence",
       "column 1: expected a path, a literal or \"(\", "
       "got \"[\""},
      {"audit.",
       "column 7: expected a field of audit after \".\", got the "
       "end of the expression"},
      {"source.",
       "column 8: expected a function call such as "
       "startsWith(\"...\") after \".\", got the end of the "
       "expression"},
      {"attributes[team] == \"x\"",
       "column 12: expected a string key after "
       "\"attributes[\", got \"team\""},
      {"attributes[\"team\" == \"x\"",
       "column 19: expected \"]\", got "
       "\"==\""},
      {"source.startsWith(\"a\", \"b\")",
       "column 22: expected \")\" after "
       "the argument of startsWith, got "
       "\",\""},
      {"has(\"x\")",
       "column 5: expected a path in has(), as in "
       "has(attributes.team), got the string \"x\""},
      // Names.
      {"sorce == \"x\"",
       "column 1: unknown name \"sorce\" (expected one of "
       "type, source, id, sequence, priority, attributes, "
       "audit, space_name)"},
      {"audit.opration == 1",
       "column 7: unknown field \"opration\" of audit "
       "(expected one of username, client_ip, "
       "user_agent, operation, resource_type, "
       "resource_id, access_location, status, "
       "error_message, metadata, registry_type, "
       "route)"},
      {"space_name.nam == \"x\"",
       "column 12: unknown field \"nam\" of "
       "space_name (expected one of space, name, "
       "registry_type)"},
      {"audit.status == AUDIT_STATUS_DENIED",
       "column 17: unknown name AUDIT_STATUS_DENIED: write enum value names "
       "in quotes, \"AUDIT_STATUS_DENIED\""},
      {"source.name == \"x\"",
       "column 8: source is a string: it has no "
       "field \"name\""},
      {"source[\"x\"] == \"y\"",
       "column 7: expected an operator after "
       "source, got \"[\" (only attributes is "
       "indexed)"},
      {"size(source) == 1",
       "column 1: unknown function \"size\" (expected "
       "has(), or a method such as "
       "source.startsWith(\"...\"))"},
      {"source.size() == 1",
       "column 8: unknown function \"size\" (expected "
       "startsWith, endsWith, contains or matches)"},
      // Types.
      {"source", "column 1: expected a condition, got source, a string"},
      {"sequence == \"8\"",
       "column 13: expected an integer after \"==\", got "
       "the string \"8\""},
      {"source == 8",
       "column 11: expected a string after \"==\", got the "
       "integer 8"},
      {"source == true",
       "column 11: expected a string after \"==\", got "
       "\"true\""},
      {"true == source",
       "column 9: expected a condition after \"==\", got "
       "source, a string"},
      {"source < sequence",
       "column 10: expected a string after \"<\", got "
       "sequence, an integer"},
      {"has(audit) < true",
       "column 12: \"<\" compares integers or strings, "
       "got a condition"},
      {"audit.status > \"AUDIT_STATUS_DENIED\"",
       "column 14: \">\" compares integers or strings, got audit.status, an "
       "eventbus.v1.AuditStatus (enums compare with ==, != and in)"},
      {"audit.status == \"DENIED\"",
       "column 17: expected an eventbus.v1.AuditStatus name in quotes after "
       "\"==\" (AUDIT_STATUS_UNSPECIFIED, AUDIT_STATUS_SUCCESS, "
       "AUDIT_STATUS_FAILED, AUDIT_STATUS_DENIED), got the string \"DENIED\""},
      {"audit.status == source",
       "column 17: expected an eventbus.v1.AuditStatus name in quotes after "
       "\"==\" (AUDIT_STATUS_UNSPECIFIED, AUDIT_STATUS_SUCCESS, "
       "AUDIT_STATUS_FAILED, AUDIT_STATUS_DENIED), got source, a string"},
      {"audit.status == audit.operation",
       "column 17: expected an eventbus.v1.AuditStatus name in quotes after "
       "\"==\" (AUDIT_STATUS_UNSPECIFIED, AUDIT_STATUS_SUCCESS, "
       "AUDIT_STATUS_FAILED, AUDIT_STATUS_DENIED), got audit.operation, an "
       "eventbus.v1.Operation"},
      {"priority in [\"PRIORITY_HIGH\", \"HIGH\"]",
       "column 31: expected an eventbus.v1.Priority name in quotes in the "
       "list (PRIORITY_UNSPECIFIED, PRIORITY_LOW, PRIORITY_NORMAL, "
       "PRIORITY_HIGH), got the string \"HIGH\""},
      {"sequence in [1, \"2\"]",
       "column 17: expected an integer in the list, "
       "got the string \"2\""},
      {"source in [id]",
       "column 12: expected a literal in the list, got id, "
       "a string"},
      {"has(audit) in [true]",
       "column 1: expected a string, an integer or "
       "an enum before \"in\", got a condition"},
      {"sequence in attributes",
       "column 1: expected a string before \"in "
       "attributes\", got sequence, an integer"},
      {"audit == \"x\"",
       "column 1: audit is a message: compare one of its "
       "fields (username, client_ip, user_agent, "
       "operation, resource_type, resource_id, "
       "access_location, status, error_message, metadata, "
       "registry_type, route) or test it with has(audit)"},
      {"attributes == \"x\"",
       "column 1: attributes is a map: index it, as in "
       "attributes[\"team\"] or attributes.team"},
      {"sequence.startsWith(\"1\")",
       "column 1: startsWith applies to a "
       "string, got sequence, an integer"},
      {"source.endsWith(1)",
       "column 17: expected a string argument for "
       "endsWith, got the integer 1"},
      {"source.matches(id)",
       "column 16: expected a string literal as the "
       "pattern of matches (it is compiled once), got "
       "id, a string"},
      {"source.matches(\"(a\")",
       "column 16: expected a regular expression "
       "(RE2 syntax), got one with an error: "
       "missing ): (a"},
      {"!source",
       "column 2: expected a condition after \"!\", got source, a "
       "string"},
      {"source && true",
       "column 1: expected a condition before \"&&\", got "
       "source, a string"},
      {"true || sequence",
       "column 9: expected a condition after \"||\", got "
       "sequence, an integer"},
      // An enum name on the left of the operator.
      {"\"DENIED\" == audit.status",
       "column 1: expected an eventbus.v1.AuditStatus name in quotes before "
       "\"==\" (AUDIT_STATUS_UNSPECIFIED, AUDIT_STATUS_SUCCESS, "
       "AUDIT_STATUS_FAILED, AUDIT_STATUS_DENIED), got the string \"DENIED\""},
      // A pattern RE2 cannot compile within its memory cap.
      {R"(source.matches("\\pL{1000}"))",
       "column 16: expected a regular expression (RE2 syntax), got one with "
       "an error: pattern too large - compile failed"},
      // Several lines: the line, then the column within it.
      {"has(audit) &&\n  audit.status == \"DENIED\"",
       "line 2, column 19: expected an eventbus.v1.AuditStatus name in "
       "quotes after \"==\" (AUDIT_STATUS_UNSPECIFIED, AUDIT_STATUS_SUCCESS, "
       "AUDIT_STATUS_FAILED, AUDIT_STATUS_DENIED), got the string \"DENIED\""},
      {"true ||\n\n@",
       "line 3, column 1: expected an operand or an operator, got \"@\""},
      // Columns count characters, not bytes.
      {"source == \"é\" && é",
       "column 18: expected an operand or an "
       "operator, got a character outside a "
       "string"},
  };
  for (const auto& [expression, message] : cases) {
    EXPECT_EQ(FilterExpression::Compile(expression).status(),
              absl::InvalidArgumentError(message))
        << expression;
  }
}

TEST(FilterExpressionTest, NestingIsLimited) {
  const auto nested = [](int depth) {
    return std::string(depth, '(') + "true" + std::string(depth, ')');
  };
  EXPECT_TRUE(FilterExpression::Compile(nested(32)).ok());
  EXPECT_EQ(FilterExpression::Compile(nested(33)).status(),
            absl::InvalidArgumentError("column 33: nesting deeper than 32 "
                                       "levels"));
  EXPECT_TRUE(FilterExpression::Compile(std::string(32, '!') + "true").ok());
  EXPECT_EQ(FilterExpression::Compile(std::string(33, '!') + "true").status(),
            absl::InvalidArgumentError("column 33: nesting deeper than 32 "
                                       "levels"));
  // Long flat chains are not nesting.
  std::string chain = "true";
  for (int i = 0; i < 500; ++i) chain += " && sequence != 0";
  EXPECT_TRUE(FilterExpression::Compile(chain).ok());
}

TEST(FilterExpressionTest, PatternsAreLimited) {
  const auto patterns = [](int count) {
    std::string source = "true";
    for (int i = 0; i < count; ++i) source += " && source.matches(\"^o\")";
    return source;
  };
  const absl::StatusOr<FilterExpression> sixteen =
      FilterExpression::Compile(patterns(16));
  ASSERT_TRUE(sixteen.ok()) << sixteen.status();
  EXPECT_TRUE(sixteen->Matches(DeniedDelete()));
  EXPECT_EQ(FilterExpression::Compile(patterns(17)).status(),
            absl::InvalidArgumentError(
                "column 400: more than 16 matches() patterns in one "
                "expression"));
}

// Every field of the payload messages can be named: a field added to the
// proto later fails here until it gets a path.
TEST(FilterExpressionTest, EveryPayloadFieldHasAPath) {
  for (const google::protobuf::Descriptor* message :
       {v1::AuditEvent::descriptor(), v1::SpaceNameEvent::descriptor()}) {
    const std::string prefix =
        message == v1::AuditEvent::descriptor() ? "audit." : "space_name.";
    for (int i = 0; i < message->field_count(); ++i) {
      const std::string name = prefix + message->field(i)->name();
      EXPECT_NE(filter::FindPath(name), nullptr) << name;
    }
  }
}

TEST(FilterExpressionTest, CopiesShareOneCompiledTree) {
  const absl::StatusOr<FilterExpression> compiled =
      FilterExpression::Compile("sequence == 7");
  ASSERT_TRUE(compiled.ok());
  const FilterExpression copy = *compiled;
  EXPECT_TRUE(copy.Matches(DeniedDelete()));
  EXPECT_FALSE(copy.Matches(SuccessfulRead()));
}

}  // namespace
}  // namespace eventbus

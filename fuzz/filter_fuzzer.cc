// Fuzzes FilterExpression::Compile with arbitrary text as an
// EventFilter.expression. The oracle:
// - Compile never crashes or hangs (nesting is bounded, chains are flat);
// - it fails only with InvalidArgument "column N: ..." (or "line L, column
//   N: ..." for a text of several lines), L and N within the text;
// - a compiled expression evaluates on a handful of events, the same way
//   twice; and `!(E)`, `(E) && true` and `(E) || false` compile (when
//   their extra nesting is allowed) and give the negation and the same
//   result on each of them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "eventbus/v1/eventbus.pb.h"
#include "fuzz/fuzz_check.h"
#include "server/filter/expression.h"
#include "server/filter/lexer.h"

namespace eventbus {
namespace {

std::vector<v1::Event> Events() {
  std::vector<v1::Event> events(4);
  events[0].set_sequence(1);
  events[0].set_source("opsml-server");
  (*events[0].mutable_attributes())["team"] = "ml";
  events[0].mutable_audit()->set_username("alice");
  events[0].mutable_audit()->set_operation(v1::OPERATION_DELETE);
  events[0].mutable_audit()->set_status(v1::AUDIT_STATUS_DENIED);
  events[0].mutable_audit()->set_access_location("s3://b/k");
  events[1].set_sequence(2);
  events[1].set_priority(v1::PRIORITY_HIGH);
  events[1].mutable_space_name()->set_space("ml");
  events[1].mutable_space_name()->set_name("churn");
  events[2].set_sequence(3);
  events[2].set_id("x");
  (*events[2].mutable_attributes())[""] = "";
  events[2].mutable_audit()->set_route("/opsml/api/card");
  events[3].set_sequence(uint64_t{1} << 62);
  events[3].mutable_audit();
  return events;
}

// Reads the number that `message` starts with, after `prefix`, and
// consumes both.
size_t TakeNumber(absl::string_view prefix, absl::string_view* message) {
  FUZZ_CHECK(absl::ConsumePrefix(message, prefix));
  size_t digits = 0;
  while (digits < message->size() && absl::ascii_isdigit((*message)[digits])) {
    ++digits;
  }
  size_t number = 0;
  FUZZ_CHECK(absl::SimpleAtoi(message->substr(0, digits), &number));
  message->remove_prefix(digits);
  return number;
}

void CheckError(absl::string_view source, const absl::Status& status) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  absl::string_view message = status.message();
  const bool lines = absl::StrContains(source, '\n');
  const filter::Position end = filter::PositionOf(source, source.size());
  size_t line = 1;
  if (lines) {
    line = TakeNumber("line ", &message);
    FUZZ_CHECK(line >= 1 && line <= end.line);
    FUZZ_CHECK(absl::ConsumePrefix(&message, ", "));
  }
  const size_t column = TakeNumber("column ", &message);
  FUZZ_CHECK(absl::StartsWith(message, ": "));
  // Within its line, the end of the line included.
  size_t line_end = 0;
  for (size_t i = 1; i <= line; ++i) {
    line_end = std::min(source.find('\n', line_end + (i > 1)), source.size());
  }
  FUZZ_CHECK(column >= 1);
  FUZZ_CHECK(column <= filter::PositionOf(source, line_end).column);
}

void Fuzz(absl::string_view source) {
  const absl::StatusOr<FilterExpression> compiled =
      FilterExpression::Compile(source);
  if (!compiled.ok()) {
    CheckError(source, compiled.status());
    // The same text, the same refusal.
    FUZZ_CHECK(FilterExpression::Compile(source).status() == compiled.status());
    return;
  }
  static const std::vector<v1::Event>* const kEvents =
      new std::vector<v1::Event>(Events());
  const std::string text(source);
  const absl::StatusOr<FilterExpression> negated =
      FilterExpression::Compile("!(" + text + "\n)");
  const absl::StatusOr<FilterExpression> and_true =
      FilterExpression::Compile("(" + text + "\n) && true");
  const absl::StatusOr<FilterExpression> or_false =
      FilterExpression::Compile("(" + text + "\n) || false");
  // Wrapping adds nesting, and nothing else can fail.
  if (!negated.ok()) {
    FUZZ_CHECK(absl::StrContains(negated.status().message(), "nesting"));
  }
  if (!and_true.ok()) {
    FUZZ_CHECK(absl::StrContains(and_true.status().message(), "nesting"));
  }
  if (!or_false.ok()) {
    FUZZ_CHECK(absl::StrContains(or_false.status().message(), "nesting"));
  }
  for (const v1::Event& event : *kEvents) {
    const bool matches = compiled->Matches(event);
    FUZZ_CHECK(compiled->Matches(event) == matches);
    if (negated.ok()) FUZZ_CHECK(negated->Matches(event) == !matches);
    if (and_true.ok()) FUZZ_CHECK(and_true->Matches(event) == matches);
    if (or_false.ok()) FUZZ_CHECK(or_false->Matches(event) == matches);
  }
}

}  // namespace
}  // namespace eventbus

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eventbus::Fuzz(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

// FilterExpression: a compiled EventFilter.expression, a subset of CEL (the
// language of Kubernetes admission policies and Envoy RBAC) over one event:
//
//   audit.operation == "OPERATION_DELETE" &&
//       audit.status in ["AUDIT_STATUS_DENIED", "AUDIT_STATUS_FAILED"]
//
// Operators || && ! == != < <= > >= `in [..]` and parentheses; has(path),
// and startsWith, endsWith, contains and matches (RE2) on strings; string,
// integer, true and false literals. Paths: type ("audit" or "space_name"),
// source, id, sequence, priority, attributes["k"] or attributes.k,
// audit.<field>, space_name.<field>. Enum fields compare with their value
// names. A comparison with a missing value (an absent attribute, an unset
// optional field, a field of the other payload type) is false, `!=` too.
//
// Compile() parses and type-checks once (a hand-written recursive-descent
// parser: errors name the column and what was expected); Matches() then
// walks the tree on the parsed event. Copies share the immutable tree, so
// any thread may call Matches() on any copy.
#ifndef EVENTBUS_SERVER_FILTER_EXPRESSION_H_
#define EVENTBUS_SERVER_FILTER_EXPRESSION_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus {
namespace filter {
class Node;
}  // namespace filter

class FilterExpression {
 public:
  // Parentheses, `!`, lists and function calls nested deeper than this are
  // refused.
  static constexpr int kMaxDepth = 32;
  // An expression holds at most this many matches() patterns, each compiled
  // by RE2 within kMaxPatternBytes of memory: together they bound what one
  // subscription's filter can cost the daemon.
  static constexpr int kMaxPatterns = 16;
  static constexpr int64_t kMaxPatternBytes = 256 << 10;

  // Compiles `source`. InvalidArgument "column N: expected ..., got ..." for
  // a syntax error, an unknown path or function, a type mismatch, an unknown
  // enum value name, an invalid regular expression, more than kMaxPatterns
  // patterns or nesting deeper than kMaxDepth. The column counts characters
  // from 1; a source of several lines gets "line L, column N: ...".
  static absl::StatusOr<FilterExpression> Compile(absl::string_view source);

  // True when `event` passes.
  bool Matches(const v1::Event& event) const;

 private:
  explicit FilterExpression(std::shared_ptr<const filter::Node> root)
      : root_(std::move(root)) {}

  std::shared_ptr<const filter::Node> root_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_FILTER_EXPRESSION_H_

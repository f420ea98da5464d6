// Nodes: a compiled filter expression as a tree of conditions over one
// parsed event, built by FilterExpression::Compile after every type check.
//
// Immutable once built: any thread may call Eval() on a shared tree.
#ifndef EVENTBUS_SERVER_FILTER_NODES_H_
#define EVENTBUS_SERVER_FILTER_NODES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eventbus/v1/eventbus.pb.h"
#include "server/filter/paths.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace eventbus::filter {

class Node {
 public:
  virtual ~Node() = default;
  // True when `event` passes.
  virtual bool Eval(const v1::Event& event) const = 0;
};

// One side of a comparison: a path read from the event, or a literal.
struct Operand {
  // nullptr for a literal.
  const Path* path = nullptr;
  // AttributePath()'s key.
  std::string key;
  // A literal's value (enum names already turned into their numbers).
  Value::Kind kind = Value::Kind::kMissing;
  int64_t integer = 0;
  std::string string;

  Value Get(const v1::Event& event) const {
    if (path != nullptr) return path->get(event, key);
    return {.kind = kind, .integer = integer, .string = string};
  }
};

enum class Comparison {
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual
};

enum class StringFunction { kStartsWith, kEndsWith, kContains };

// Every comparison, `in` and function below is false when an operand is
// missing (an absent attribute, an unset optional field, the fields of the
// other payload type): `!=` too. has() tests for presence.

std::unique_ptr<Node> Constant(bool value);
std::unique_ptr<Node> AllOf(std::vector<std::unique_ptr<Node>> conditions);
std::unique_ptr<Node> AnyOf(std::vector<std::unique_ptr<Node>> conditions);
std::unique_ptr<Node> Not(std::unique_ptr<Node> condition);
// a == b on two conditions; a != b when `negate`.
std::unique_ptr<Node> SameTruth(std::unique_ptr<Node> a,
                                std::unique_ptr<Node> b, bool negate);
// Both operands of one kind (integers, enums, or strings by bytes).
std::unique_ptr<Node> Compare(Operand left, Comparison comparison,
                              Operand right);
std::unique_ptr<Node> InList(Operand value, std::vector<Operand> list);
// `key in attributes`.
std::unique_ptr<Node> InAttributes(Operand key);
std::unique_ptr<Node> Has(const Path* path, std::string key);
std::unique_ptr<Node> Call(StringFunction function, Operand receiver,
                           Operand argument);
// receiver.matches(pattern): RE2 partial match, as CEL's matches().
std::unique_ptr<Node> Matches(Operand receiver,
                              std::unique_ptr<const re2::RE2> pattern);

}  // namespace eventbus::filter

#endif  // EVENTBUS_SERVER_FILTER_NODES_H_

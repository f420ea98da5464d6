#include "server/filter/nodes.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "re2/re2.h"

namespace eventbus::filter {
namespace {

class ConstantNode final : public Node {
 public:
  explicit ConstantNode(bool value) : value_(value) {}
  bool Eval(const v1::Event&) const override { return value_; }

 private:
  const bool value_;
};

class AllOfNode final : public Node {
 public:
  explicit AllOfNode(std::vector<std::unique_ptr<Node>> conditions)
      : conditions_(std::move(conditions)) {}
  bool Eval(const v1::Event& event) const override {
    for (const auto& condition : conditions_) {
      if (!condition->Eval(event)) return false;
    }
    return true;
  }

 private:
  const std::vector<std::unique_ptr<Node>> conditions_;
};

class AnyOfNode final : public Node {
 public:
  explicit AnyOfNode(std::vector<std::unique_ptr<Node>> conditions)
      : conditions_(std::move(conditions)) {}
  bool Eval(const v1::Event& event) const override {
    for (const auto& condition : conditions_) {
      if (condition->Eval(event)) return true;
    }
    return false;
  }

 private:
  const std::vector<std::unique_ptr<Node>> conditions_;
};

class NotNode final : public Node {
 public:
  explicit NotNode(std::unique_ptr<Node> condition)
      : condition_(std::move(condition)) {}
  bool Eval(const v1::Event& event) const override {
    return !condition_->Eval(event);
  }

 private:
  const std::unique_ptr<Node> condition_;
};

class SameTruthNode final : public Node {
 public:
  SameTruthNode(std::unique_ptr<Node> a, std::unique_ptr<Node> b, bool negate)
      : a_(std::move(a)), b_(std::move(b)), negate_(negate) {}
  bool Eval(const v1::Event& event) const override {
    return (a_->Eval(event) == b_->Eval(event)) != negate_;
  }

 private:
  const std::unique_ptr<Node> a_;
  const std::unique_ptr<Node> b_;
  const bool negate_;
};

template <typename T>
bool Holds(Comparison comparison, const T& a, const T& b) {
  switch (comparison) {
    case Comparison::kEqual:
      return a == b;
    case Comparison::kNotEqual:
      return a != b;
    case Comparison::kLess:
      return a < b;
    case Comparison::kLessEqual:
      return a <= b;
    case Comparison::kGreater:
      return a > b;
    case Comparison::kGreaterEqual:
      return a >= b;
  }
  return false;
}

// True when `a` and `b` are present and hold `comparison`.
bool Holds(Comparison comparison, const Value& a, const Value& b) {
  if (a.kind == Value::Kind::kMissing || b.kind == Value::Kind::kMissing) {
    return false;
  }
  if (a.kind == Value::Kind::kInteger) {
    return Holds(comparison, a.integer, b.integer);
  }
  return Holds(comparison, a.string, b.string);
}

class CompareNode final : public Node {
 public:
  CompareNode(Operand left, Comparison comparison, Operand right)
      : left_(std::move(left)),
        right_(std::move(right)),
        comparison_(comparison) {}
  bool Eval(const v1::Event& event) const override {
    return Holds(comparison_, left_.Get(event), right_.Get(event));
  }

 private:
  const Operand left_;
  const Operand right_;
  const Comparison comparison_;
};

class InListNode final : public Node {
 public:
  InListNode(Operand value, std::vector<Operand> list)
      : value_(std::move(value)), list_(std::move(list)) {}
  bool Eval(const v1::Event& event) const override {
    const Value value = value_.Get(event);
    return std::any_of(list_.begin(), list_.end(), [&](const Operand& item) {
      return Holds(Comparison::kEqual, value, item.Get(event));
    });
  }

 private:
  const Operand value_;
  const std::vector<Operand> list_;
};

class InAttributesNode final : public Node {
 public:
  explicit InAttributesNode(Operand key) : key_(std::move(key)) {}
  bool Eval(const v1::Event& event) const override {
    const Value key = key_.Get(event);
    if (key.kind != Value::Kind::kString) return false;
    return event.attributes().count(std::string(key.string)) != 0;
  }

 private:
  const Operand key_;
};

class HasNode final : public Node {
 public:
  HasNode(const Path* path, std::string key)
      : path_(path), key_(std::move(key)) {}
  bool Eval(const v1::Event& event) const override {
    return path_->has(event, key_);
  }

 private:
  const Path* const path_;
  const std::string key_;
};

class CallNode final : public Node {
 public:
  CallNode(StringFunction function, Operand receiver, Operand argument)
      : function_(function),
        receiver_(std::move(receiver)),
        argument_(std::move(argument)) {}
  bool Eval(const v1::Event& event) const override {
    const Value receiver = receiver_.Get(event);
    const Value argument = argument_.Get(event);
    if (receiver.kind != Value::Kind::kString ||
        argument.kind != Value::Kind::kString) {
      return false;
    }
    switch (function_) {
      case StringFunction::kStartsWith:
        return absl::StartsWith(receiver.string, argument.string);
      case StringFunction::kEndsWith:
        return absl::EndsWith(receiver.string, argument.string);
      case StringFunction::kContains:
        return absl::StrContains(receiver.string, argument.string);
    }
    return false;
  }

 private:
  const StringFunction function_;
  const Operand receiver_;
  const Operand argument_;
};

class MatchesNode final : public Node {
 public:
  MatchesNode(Operand receiver, std::unique_ptr<const re2::RE2> pattern)
      : receiver_(std::move(receiver)), pattern_(std::move(pattern)) {}
  bool Eval(const v1::Event& event) const override {
    const Value receiver = receiver_.Get(event);
    if (receiver.kind != Value::Kind::kString) return false;
    return re2::RE2::PartialMatch(
        re2::StringPiece(receiver.string.data(), receiver.string.size()),
        *pattern_);
  }

 private:
  const Operand receiver_;
  const std::unique_ptr<const re2::RE2> pattern_;
};

}  // namespace

std::unique_ptr<Node> Constant(bool value) {
  return std::make_unique<ConstantNode>(value);
}
std::unique_ptr<Node> AllOf(std::vector<std::unique_ptr<Node>> conditions) {
  return std::make_unique<AllOfNode>(std::move(conditions));
}
std::unique_ptr<Node> AnyOf(std::vector<std::unique_ptr<Node>> conditions) {
  return std::make_unique<AnyOfNode>(std::move(conditions));
}
std::unique_ptr<Node> Not(std::unique_ptr<Node> condition) {
  return std::make_unique<NotNode>(std::move(condition));
}
std::unique_ptr<Node> SameTruth(std::unique_ptr<Node> a,
                                std::unique_ptr<Node> b, bool negate) {
  return std::make_unique<SameTruthNode>(std::move(a), std::move(b), negate);
}
std::unique_ptr<Node> Compare(Operand left, Comparison comparison,
                              Operand right) {
  return std::make_unique<CompareNode>(std::move(left), comparison,
                                       std::move(right));
}
std::unique_ptr<Node> InList(Operand value, std::vector<Operand> list) {
  return std::make_unique<InListNode>(std::move(value), std::move(list));
}
std::unique_ptr<Node> InAttributes(Operand key) {
  return std::make_unique<InAttributesNode>(std::move(key));
}
std::unique_ptr<Node> Has(const Path* path, std::string key) {
  return std::make_unique<HasNode>(path, std::move(key));
}
std::unique_ptr<Node> Call(StringFunction function, Operand receiver,
                           Operand argument) {
  return std::make_unique<CallNode>(function, std::move(receiver),
                                    std::move(argument));
}
std::unique_ptr<Node> Matches(Operand receiver,
                              std::unique_ptr<const re2::RE2> pattern) {
  return std::make_unique<MatchesNode>(std::move(receiver), std::move(pattern));
}

}  // namespace eventbus::filter

#include "server/filter/expression.h"

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "re2/re2.h"
#include "server/filter/lexer.h"
#include "server/filter/nodes.h"
#include "server/filter/paths.h"

namespace eventbus {
namespace filter {
namespace {

using google::protobuf::EnumDescriptor;
using Kind = Token::Kind;

// A parsed subexpression and its static type.
struct Expr {
  Type type = Type::kBool;
  // kEnum: the enum of its values.
  const EnumDescriptor* enum_type = nullptr;
  // Where it starts in the source, in bytes.
  size_t offset = 0;
  // kBool: the condition.
  std::unique_ptr<Node> node;
  // Every other type: the path or the literal.
  Operand operand;
  bool literal = false;
  // How errors name it: "source, a string", "the string \"x\"".
  std::string description;
};

std::string EnumNames(const EnumDescriptor* enum_type) {
  std::vector<std::string> names;
  for (int i = 0; i < enum_type->value_count(); ++i) {
    names.push_back(enum_type->value(i)->name());
  }
  return absl::StrJoin(names, ", ");
}

// The enums whose value names someone may write without quotes.
bool IsEnumValueName(absl::string_view name) {
  for (const EnumDescriptor* enum_type :
       {v1::Operation_descriptor(), v1::ResourceType_descriptor(),
        v1::AuditStatus_descriptor(), v1::RegistryType_descriptor(),
        v1::Priority_descriptor()}) {
    if (enum_type->FindValueByName(std::string(name)) != nullptr) return true;
  }
  return false;
}

class Parser {
 public:
  Parser(absl::string_view source, std::vector<Token> tokens)
      : source_(source), tokens_(std::move(tokens)) {}

  absl::StatusOr<std::unique_ptr<Node>> Parse() {
    EVENTBUS_ASSIGN_OR_RETURN(Expr expr, ParseOr());
    if (Peek().kind != Kind::kEnd) {
      return Expected("\"&&\", \"||\" or the end of the expression");
    }
    EVENTBUS_RETURN_IF_ERROR(RequireCondition(expr, ""));
    return std::move(expr.node);
  }

 private:
  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(next_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& token = Peek();
    if (next_ < tokens_.size() - 1) ++next_;
    return token;
  }

  absl::Status Error(size_t offset, absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(DescribePosition(source_, offset), ": ", message));
  }
  absl::Status Expected(absl::string_view what) const {
    return Error(Peek().offset,
                 absl::StrCat("expected ", what, ", got ", Describe(Peek())));
  }
  absl::Status Expect(Kind kind, absl::string_view what) {
    if (Peek().kind != kind) return Expected(what);
    Next();
    return absl::OkStatus();
  }

  absl::Status Enter(size_t offset) {
    if (++depth_ > FilterExpression::kMaxDepth) {
      return Error(offset,
                   absl::StrCat("nesting deeper than ",
                                FilterExpression::kMaxDepth, " levels"));
    }
    return absl::OkStatus();
  }
  void Leave() { --depth_; }

  // A message or map used where a value is needed.
  absl::Status Misused(const Expr& expr) const {
    const absl::string_view name = expr.operand.path->name;
    if (expr.type == Type::kMap) {
      return Error(expr.offset,
                   absl::StrCat(name, " is a map: index it, as in ", name,
                                "[\"team\"] or ", name, ".team"));
    }
    return Error(
        expr.offset,
        absl::StrCat(name, " is a message: compare one of its fields (",
                     FieldsOf(name), ") or test it with has(", name, ")"));
  }
  bool IsAggregate(const Expr& expr) const {
    return expr.type == Type::kMessage || expr.type == Type::kMap;
  }

  absl::Status RequireCondition(const Expr& expr, absl::string_view where) {
    if (expr.type == Type::kBool) return absl::OkStatus();
    if (IsAggregate(expr)) return Misused(expr);
    return Error(expr.offset, absl::StrCat("expected a condition", where,
                                           ", got ", expr.description));
  }

  static Expr Condition(size_t offset, std::unique_ptr<Node> node) {
    Expr expr;
    expr.type = Type::kBool;
    expr.offset = offset;
    expr.node = std::move(node);
    expr.description = "a condition";
    return expr;
  }

  // or := and ("||" and)*
  absl::StatusOr<Expr> ParseOr() {
    EVENTBUS_ASSIGN_OR_RETURN(Expr first, ParseAnd());
    if (Peek().kind != Kind::kOr) return first;
    EVENTBUS_RETURN_IF_ERROR(RequireCondition(first, " before \"||\""));
    std::vector<std::unique_ptr<Node>> conditions;
    conditions.push_back(std::move(first.node));
    while (Peek().kind == Kind::kOr) {
      Next();
      EVENTBUS_ASSIGN_OR_RETURN(Expr next, ParseAnd());
      EVENTBUS_RETURN_IF_ERROR(RequireCondition(next, " after \"||\""));
      conditions.push_back(std::move(next.node));
    }
    return Condition(first.offset, AnyOf(std::move(conditions)));
  }

  // and := relation ("&&" relation)*
  absl::StatusOr<Expr> ParseAnd() {
    EVENTBUS_ASSIGN_OR_RETURN(Expr first, ParseRelation());
    if (Peek().kind != Kind::kAnd) return first;
    EVENTBUS_RETURN_IF_ERROR(RequireCondition(first, " before \"&&\""));
    std::vector<std::unique_ptr<Node>> conditions;
    conditions.push_back(std::move(first.node));
    while (Peek().kind == Kind::kAnd) {
      Next();
      EVENTBUS_ASSIGN_OR_RETURN(Expr next, ParseRelation());
      EVENTBUS_RETURN_IF_ERROR(RequireCondition(next, " after \"&&\""));
      conditions.push_back(std::move(next.node));
    }
    return Condition(first.offset, AllOf(std::move(conditions)));
  }

  // relation := unary (comparison unary | "in" list | "in" attributes)?
  absl::StatusOr<Expr> ParseRelation() {
    EVENTBUS_ASSIGN_OR_RETURN(Expr left, ParseUnary());
    const Token& op = Peek();
    Comparison comparison;
    switch (op.kind) {
      case Kind::kEqual:
        comparison = Comparison::kEqual;
        break;
      case Kind::kNotEqual:
        comparison = Comparison::kNotEqual;
        break;
      case Kind::kLess:
        comparison = Comparison::kLess;
        break;
      case Kind::kLessEqual:
        comparison = Comparison::kLessEqual;
        break;
      case Kind::kGreater:
        comparison = Comparison::kGreater;
        break;
      case Kind::kGreaterEqual:
        comparison = Comparison::kGreaterEqual;
        break;
      case Kind::kIn:
        return ParseIn(std::move(left));
      default:
        return left;
    }
    const Token& op_token = Next();
    EVENTBUS_ASSIGN_OR_RETURN(Expr right, ParseUnary());
    return Compare(std::move(left), op_token, comparison, std::move(right));
  }

  absl::StatusOr<Expr> Compare(Expr left, const Token& op,
                               Comparison comparison, Expr right) {
    if (IsAggregate(left)) return Misused(left);
    if (IsAggregate(right)) return Misused(right);
    // Where the right operand stands, and the left one.
    const std::string after = absl::StrCat(" after ", Describe(op));
    const std::string before = absl::StrCat(" before ", Describe(op));
    const bool ordering =
        comparison != Comparison::kEqual && comparison != Comparison::kNotEqual;
    if (left.type == Type::kBool || right.type == Type::kBool) {
      if (left.type != right.type) return Mismatch(left, after, right);
      if (ordering) {
        return Error(op.offset, absl::StrCat(Describe(op),
                                             " compares integers or strings, "
                                             "got a condition"));
      }
      return Condition(left.offset,
                       SameTruth(std::move(left.node), std::move(right.node),
                                 comparison == Comparison::kNotEqual));
    }
    if (left.type == Type::kEnum || right.type == Type::kEnum) {
      Expr& named = left.type == Type::kEnum ? left : right;
      Expr& other = left.type == Type::kEnum ? right : left;
      if (ordering) {
        return Error(
            op.offset,
            absl::StrCat(Describe(op), " compares integers or strings, got ",
                         named.description,
                         " (enums compare with ==, != and in)"));
      }
      EVENTBUS_RETURN_IF_ERROR(
          CoerceToEnum(named, &other, &other == &left ? before : after));
    } else if (left.type != right.type) {
      return Mismatch(left, after, right);
    }
    return Condition(left.offset,
                     filter::Compare(std::move(left.operand), comparison,
                                     std::move(right.operand)));
  }

  absl::Status Mismatch(const Expr& left, absl::string_view where,
                        const Expr& right) const {
    return Error(right.offset,
                 absl::StrCat("expected ", TypeName(left.type, left.enum_type),
                              where, ", got ", right.description));
  }

  // Makes `other` comparable with enum-typed `named`: an integer, the same
  // enum, or a literal value name, turned into its number.
  absl::Status CoerceToEnum(const Expr& named, Expr* other,
                            absl::string_view where) const {
    if (other->type == Type::kInteger) return absl::OkStatus();
    if (other->type == Type::kEnum && other->enum_type == named.enum_type) {
      return absl::OkStatus();
    }
    if (other->type == Type::kString && other->literal) {
      const google::protobuf::EnumValueDescriptor* value =
          named.enum_type->FindValueByName(other->operand.string);
      if (value != nullptr) {
        other->type = Type::kEnum;
        other->enum_type = named.enum_type;
        other->operand.kind = Value::Kind::kInteger;
        other->operand.integer = value->number();
        other->operand.string.clear();
        return absl::OkStatus();
      }
    }
    return Error(
        other->offset,
        absl::StrCat("expected an ", named.enum_type->full_name(),
                     " name in quotes", where, " (", EnumNames(named.enum_type),
                     "), got ", other->description));
  }

  absl::StatusOr<Expr> ParseIn(Expr left) {
    Next();  // in
    if (IsAggregate(left)) return Misused(left);
    if (left.type == Type::kBool) {
      return Error(left.offset,
                   absl::StrCat("expected a string, an integer or an enum "
                                "before \"in\", got ",
                                left.description));
    }
    if (Peek().kind == Kind::kIdentifier && Peek().text == "attributes" &&
        Peek(1).kind != Kind::kDot && Peek(1).kind != Kind::kLeftBracket) {
      Next();
      if (left.type != Type::kString) {
        return Error(left.offset, absl::StrCat("expected a string before "
                                               "\"in attributes\", got ",
                                               left.description));
      }
      return Condition(left.offset, InAttributes(std::move(left.operand)));
    }
    if (Peek().kind != Kind::kLeftBracket) {
      return Expected(
          "a list such as [\"a\", \"b\"] or attributes after \"in\"");
    }
    const Token& open = Next();
    EVENTBUS_RETURN_IF_ERROR(Enter(open.offset));
    std::vector<Operand> list;
    if (Peek().kind != Kind::kRightBracket) {
      while (true) {
        EVENTBUS_ASSIGN_OR_RETURN(Expr item, ParseUnary());
        if (!item.literal) {
          return Error(item.offset,
                       absl::StrCat("expected a literal in the list, got ",
                                    item.description));
        }
        if (left.type == Type::kEnum) {
          EVENTBUS_RETURN_IF_ERROR(CoerceToEnum(left, &item, " in the list"));
        } else if (item.type != left.type) {
          return Mismatch(left, " in the list", item);
        }
        list.push_back(std::move(item.operand));
        if (Peek().kind != Kind::kComma) break;
        Next();
      }
    }
    Leave();
    EVENTBUS_RETURN_IF_ERROR(Expect(Kind::kRightBracket, "\",\" or \"]\""));
    return Condition(left.offset,
                     InList(std::move(left.operand), std::move(list)));
  }

  // unary := "!" unary | "-" integer | member
  absl::StatusOr<Expr> ParseUnary() {
    const Token& token = Peek();
    if (token.kind == Kind::kNot) {
      Next();
      EVENTBUS_RETURN_IF_ERROR(Enter(token.offset));
      EVENTBUS_ASSIGN_OR_RETURN(Expr operand, ParseUnary());
      Leave();
      EVENTBUS_RETURN_IF_ERROR(RequireCondition(operand, " after \"!\""));
      return Condition(token.offset, Not(std::move(operand.node)));
    }
    if (token.kind == Kind::kMinus) {
      Next();
      if (Peek().kind != Kind::kInteger) {
        return Expected("an integer after \"-\"");
      }
      const Token& number = Next();
      Expr expr = IntegerLiteral(token.offset, number);
      expr.operand.integer = number.integer == uint64_t{1} << 63
                                 ? std::numeric_limits<int64_t>::min()
                                 : -static_cast<int64_t>(number.integer);
      expr.description = absl::StrCat("the integer -", number.text);
      return expr;
    }
    return ParseMember();
  }

  static Expr IntegerLiteral(size_t offset, const Token& number) {
    Expr expr;
    expr.type = Type::kInteger;
    expr.offset = offset;
    expr.literal = true;
    expr.operand.kind = Value::Kind::kInteger;
    expr.operand.integer = static_cast<int64_t>(number.integer);
    expr.description = Describe(number);
    return expr;
  }

  // member := primary ("." function "(" or ")")*
  absl::StatusOr<Expr> ParseMember() {
    EVENTBUS_ASSIGN_OR_RETURN(Expr expr, ParsePrimary());
    while (Peek().kind == Kind::kDot) {
      const Token& name = Peek(1);
      if (name.kind != Kind::kIdentifier || Peek(2).kind != Kind::kLeftParen) {
        Next();
        return Expected(
            "a function call such as startsWith(\"...\") after "
            "\".\"");
      }
      EVENTBUS_ASSIGN_OR_RETURN(expr, ParseCall(std::move(expr)));
    }
    return expr;
  }

  absl::StatusOr<Expr> ParseCall(Expr receiver) {
    Next();  // .
    const Token& name = Next();
    const Token& open = Next();
    const bool matches = name.text == "matches";
    StringFunction function = StringFunction::kContains;
    if (name.text == "startsWith") {
      function = StringFunction::kStartsWith;
    } else if (name.text == "endsWith") {
      function = StringFunction::kEndsWith;
    } else if (name.text != "contains" && !matches) {
      return Error(name.offset,
                   absl::StrCat("unknown function \"", name.text,
                                "\" (expected startsWith, endsWith, contains "
                                "or matches)"));
    }
    if (IsAggregate(receiver)) return Misused(receiver);
    if (receiver.type != Type::kString) {
      return Error(receiver.offset,
                   absl::StrCat(name.text, " applies to a string, got ",
                                receiver.description));
    }
    EVENTBUS_RETURN_IF_ERROR(Enter(open.offset));
    EVENTBUS_ASSIGN_OR_RETURN(Expr argument, ParseOr());
    Leave();
    if (IsAggregate(argument)) return Misused(argument);
    if (argument.type != Type::kString) {
      return Error(argument.offset,
                   absl::StrCat("expected a string argument for ", name.text,
                                ", got ", argument.description));
    }
    EVENTBUS_RETURN_IF_ERROR(
        Expect(Kind::kRightParen,
               absl::StrCat("\")\" after the argument of ", name.text)));
    if (!matches) {
      return Condition(receiver.offset,
                       Call(function, std::move(receiver.operand),
                            std::move(argument.operand)));
    }
    if (!argument.literal) {
      return Error(argument.offset,
                   absl::StrCat("expected a string literal as the pattern of "
                                "matches (it is compiled once), got ",
                                argument.description));
    }
    if (++patterns_ > FilterExpression::kMaxPatterns) {
      return Error(name.offset,
                   absl::StrCat("more than ", FilterExpression::kMaxPatterns,
                                " matches() patterns in one expression"));
    }
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_never_capture(true);
    options.set_max_mem(FilterExpression::kMaxPatternBytes);
    auto pattern =
        std::make_unique<const re2::RE2>(argument.operand.string, options);
    if (!pattern->ok()) {
      return Error(argument.offset,
                   absl::StrCat("expected a regular expression (RE2 syntax), "
                                "got one with an error: ",
                                pattern->error()));
    }
    return Condition(receiver.offset,
                     Matches(std::move(receiver.operand), std::move(pattern)));
  }

  // primary := "(" or ")" | literal | "has" "(" path ")" | path
  absl::StatusOr<Expr> ParsePrimary() {
    const Token& token = Peek();
    switch (token.kind) {
      case Kind::kLeftParen: {
        Next();
        EVENTBUS_RETURN_IF_ERROR(Enter(token.offset));
        EVENTBUS_ASSIGN_OR_RETURN(Expr inner, ParseOr());
        Leave();
        EVENTBUS_RETURN_IF_ERROR(Expect(Kind::kRightParen, "\")\""));
        return inner;
      }
      case Kind::kString: {
        Next();
        Expr expr;
        expr.type = Type::kString;
        expr.offset = token.offset;
        expr.literal = true;
        expr.operand.kind = Value::Kind::kString;
        expr.operand.string = token.string;
        expr.description = Describe(token);
        return expr;
      }
      case Kind::kInteger:
        if (token.integer > uint64_t{std::numeric_limits<int64_t>::max()}) {
          return Error(token.offset,
                       "expected an integer within 64 bits (signed)");
        }
        Next();
        return IntegerLiteral(token.offset, token);
      case Kind::kTrue:
      case Kind::kFalse: {
        Next();
        Expr expr =
            Condition(token.offset, Constant(token.kind == Kind::kTrue));
        expr.literal = true;
        expr.description = Describe(token);
        return expr;
      }
      case Kind::kNull:
        return Error(token.offset,
                     "null is not supported: test for a missing value with "
                     "has()");
      case Kind::kIdentifier:
        if (Peek(1).kind == Kind::kLeftParen) {
          if (token.text == "has") return ParseHas();
          return Error(token.offset,
                       absl::StrCat("unknown function \"", token.text,
                                    "\" (expected has(), or a method such "
                                    "as source.startsWith(\"...\"))"));
        }
        return ParsePath();
      default:
        return Expected("a path, a literal or \"(\"");
    }
  }

  absl::StatusOr<Expr> ParseHas() {
    const Token& has = Next();
    const Token& open = Next();
    EVENTBUS_RETURN_IF_ERROR(Enter(open.offset));
    if (Peek().kind != Kind::kIdentifier) {
      return Expected("a path in has(), as in has(attributes.team)");
    }
    EVENTBUS_ASSIGN_OR_RETURN(Expr path, ParsePath());
    Leave();
    EVENTBUS_RETURN_IF_ERROR(
        Expect(Kind::kRightParen, "\")\" after the path of has()"));
    return Condition(has.offset,
                     Has(path.operand.path, std::move(path.operand.key)));
  }

  // path := name ("." field | "[" string "]")*, as the type allows.
  absl::StatusOr<Expr> ParsePath() {
    const Token& first = Next();
    const Path* path = FindPath(first.text);
    if (path == nullptr) {
      if (IsEnumValueName(first.text)) {
        return Error(first.offset,
                     absl::StrCat("unknown name ", first.text,
                                  ": write enum value names in quotes, \"",
                                  first.text, "\""));
      }
      return Error(first.offset,
                   absl::StrCat("unknown name \"", first.text,
                                "\" (expected one of ", TopLevelNames(), ")"));
    }
    std::string name(first.text);
    std::string key;
    while (true) {
      const bool select = Peek().kind == Kind::kDot &&
                          Peek(1).kind == Kind::kIdentifier &&
                          Peek(2).kind != Kind::kLeftParen;
      if (path->type == Type::kMessage && Peek().kind == Kind::kDot) {
        Next();
        if (Peek().kind != Kind::kIdentifier) {
          return Expected(absl::StrCat("a field of ", name, " after \".\""));
        }
        const Token& field = Next();
        const Path* child = FindPath(absl::StrCat(name, ".", field.text));
        if (child == nullptr) {
          return Error(
              field.offset,
              absl::StrCat("unknown field \"", field.text, "\" of ", name,
                           " (expected one of ", FieldsOf(name), ")"));
        }
        path = child;
        name = std::string(child->name);
      } else if (path->type == Type::kMap && select) {
        Next();
        key = std::string(Next().text);
        path = &AttributePath();
        name = absl::StrCat("attributes.", key);
      } else if (path->type == Type::kMap &&
                 Peek().kind == Kind::kLeftBracket) {
        Next();
        if (Peek().kind != Kind::kString) {
          return Expected("a string key after \"attributes[\"");
        }
        const Token& quoted = Next();
        key = quoted.string;
        EVENTBUS_RETURN_IF_ERROR(Expect(Kind::kRightBracket, "\"]\""));
        path = &AttributePath();
        name = absl::StrCat("attributes[", quoted.text, "]");
      } else if (Peek().kind == Kind::kLeftBracket) {
        return Error(Peek().offset,
                     absl::StrCat("expected an operator after ", name,
                                  ", got \"[\" (only attributes is indexed)"));
      } else if (select) {
        return Error(
            Peek(1).offset,
            absl::StrCat(name, " is ",
                         TypeName(path->type, path->enum_type == nullptr
                                                  ? nullptr
                                                  : path->enum_type()),
                         ": it has no field \"", Peek(1).text, "\""));
      } else {
        break;
      }
    }
    Expr expr;
    expr.type = path->type;
    expr.enum_type = path->enum_type == nullptr ? nullptr : path->enum_type();
    expr.offset = first.offset;
    expr.operand.path = path;
    expr.operand.key = std::move(key);
    expr.description =
        absl::StrCat(name, ", ", TypeName(expr.type, expr.enum_type));
    return expr;
  }

  const absl::string_view source_;
  const std::vector<Token> tokens_;
  size_t next_ = 0;
  int depth_ = 0;
  int patterns_ = 0;
};

}  // namespace
}  // namespace filter

absl::StatusOr<FilterExpression> FilterExpression::Compile(
    absl::string_view source) {
  EVENTBUS_ASSIGN_OR_RETURN(std::vector<filter::Token> tokens,
                            filter::Lex(source));
  filter::Parser parser(source, std::move(tokens));
  EVENTBUS_ASSIGN_OR_RETURN(std::unique_ptr<filter::Node> root, parser.Parse());
  return FilterExpression(std::shared_ptr<const filter::Node>(std::move(root)));
}

bool FilterExpression::Matches(const v1::Event& event) const {
  return root_->Eval(event);
}

}  // namespace eventbus

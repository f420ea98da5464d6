// Lexer: the tokens of a filter expression (EventFilter.expression).
//
// Lex() turns the whole source into tokens at once (expressions are a few
// KiB at most); each token keeps its byte offset so that errors can name a
// column. A pure function: any thread may call it.
#ifndef EVENTBUS_SERVER_FILTER_LEXER_H_
#define EVENTBUS_SERVER_FILTER_LEXER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace eventbus::filter {

struct Token {
  enum class Kind {
    kEnd,
    kIdentifier,
    kString,   // "..." or '...', escapes decoded; r"..." raw
    kInteger,  // decimal, without sign
    kTrue,
    kFalse,
    kNull,
    kIn,
    kLeftParen,
    kRightParen,
    kLeftBracket,
    kRightBracket,
    kComma,
    kDot,
    kNot,    // !
    kMinus,  // -
    kAnd,    // &&
    kOr,     // ||
    kEqual,  // ==
    kNotEqual,
    kLess,
    kLessEqual,
    kGreater,
    kGreaterEqual,
  };
  Kind kind = Kind::kEnd;
  // Where the token starts in the source, in bytes.
  size_t offset = 0;
  // The token as written.
  absl::string_view text;
  // kString: the decoded value.
  std::string string;
  // kInteger: the value; integers above 2^63 are refused by the lexer.
  uint64_t integer = 0;
};

// Where byte `offset` of `source` is, 1-based, as an editor shows it: the
// line (counting '\n') and the column within it (counting UTF-8 code
// points).
struct Position {
  size_t line = 1;
  size_t column = 1;
};
Position PositionOf(absl::string_view source, size_t offset);

// How an error message names that place: "column C" for a one-line source,
// "line L, column C" for one with several lines.
std::string DescribePosition(absl::string_view source, size_t offset);

// InvalidArgument "column N: what was expected" (or "line L, column N: ...")
// for a character that starts no token, an unterminated string, an unknown
// escape or an integer out of range. The last token is always kEnd.
absl::StatusOr<std::vector<Token>> Lex(absl::string_view source);

// How an error message names `token`: "the end of the expression", or the
// token as written in quotes (shortened when long).
std::string Describe(const Token& token);

}  // namespace eventbus::filter

#endif  // EVENTBUS_SERVER_FILTER_LEXER_H_

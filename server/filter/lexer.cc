#include "server/filter/lexer.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace eventbus::filter {
namespace {

absl::Status ErrorAt(absl::string_view source, size_t offset,
                     absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(DescribePosition(source, offset), ": ", message));
}

bool IsIdentifierStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsIdentifierPart(char c) { return absl::ascii_isalnum(c) || c == '_'; }

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Reads `digits` hex digits at `*pos`; false when one is not a hex digit.
bool ReadHex(absl::string_view source, size_t* pos, int digits,
             uint32_t* value) {
  *value = 0;
  for (int i = 0; i < digits; ++i, ++*pos) {
    if (*pos >= source.size() || !absl::ascii_isxdigit(source[*pos])) {
      return false;
    }
    const char c = absl::ascii_tolower(source[*pos]);
    *value = *value * 16 + static_cast<uint32_t>(
                               absl::ascii_isdigit(c) ? c - '0' : c - 'a' + 10);
  }
  return true;
}

// Lexes the string literal whose opening quote (after an optional r) is at
// `quote`; sets `*end` past the closing quote.
absl::Status LexString(absl::string_view source, size_t start, size_t quote,
                       bool raw, size_t* end, std::string* value) {
  const char delimiter = source[quote];
  size_t pos = quote + 1;
  while (true) {
    if (pos >= source.size() || source[pos] == '\n') {
      return ErrorAt(
          source, start,
          absl::StrCat("expected the closing ", delimiter == '"' ? "\"" : "'",
                       " of this string"));
    }
    const char c = source[pos];
    if (c == delimiter) break;
    if (c != '\\' || raw) {
      value->push_back(c);
      ++pos;
      continue;
    }
    const size_t escape = pos;
    if (pos + 1 >= source.size()) {
      return ErrorAt(source, escape, "expected an escape after \\");
    }
    pos += 2;
    uint32_t code_point = 0;
    switch (source[escape + 1]) {
      case '\\':
      case '"':
      case '\'':
        value->push_back(source[escape + 1]);
        continue;
      case 'n':
        value->push_back('\n');
        continue;
      case 'r':
        value->push_back('\r');
        continue;
      case 't':
        value->push_back('\t');
        continue;
      case 'x':
        if (!ReadHex(source, &pos, 2, &code_point)) {
          return ErrorAt(source, escape, "expected two hex digits after \\x");
        }
        break;
      case 'u':
        if (!ReadHex(source, &pos, 4, &code_point)) {
          return ErrorAt(source, escape, "expected four hex digits after \\u");
        }
        if (code_point >= 0xD800 && code_point <= 0xDFFF) {
          return ErrorAt(source, escape,
                         "expected a character, got a UTF-16 surrogate");
        }
        break;
      default:
        return ErrorAt(source, escape,
                       "expected an escape: \\\\, \\\", \\', \\n, \\r, \\t, "
                       "\\xHH or \\uHHHH");
    }
    AppendUtf8(code_point, value);
  }
  *end = pos + 1;
  return absl::OkStatus();
}

// The token kind of the one- or two-character operator at `pos`, and its
// length; length 0 when there is none.
std::pair<Token::Kind, size_t> Operator(absl::string_view source, size_t pos) {
  using Kind = Token::Kind;
  const char c = source[pos];
  const char next = pos + 1 < source.size() ? source[pos + 1] : '\0';
  switch (c) {
    case '(':
      return {Kind::kLeftParen, 1};
    case ')':
      return {Kind::kRightParen, 1};
    case '[':
      return {Kind::kLeftBracket, 1};
    case ']':
      return {Kind::kRightBracket, 1};
    case ',':
      return {Kind::kComma, 1};
    case '.':
      return {Kind::kDot, 1};
    case '-':
      return {Kind::kMinus, 1};
    case '!':
      return next == '=' ? std::pair{Kind::kNotEqual, size_t{2}}
                         : std::pair{Kind::kNot, size_t{1}};
    case '<':
      return next == '=' ? std::pair{Kind::kLessEqual, size_t{2}}
                         : std::pair{Kind::kLess, size_t{1}};
    case '>':
      return next == '=' ? std::pair{Kind::kGreaterEqual, size_t{2}}
                         : std::pair{Kind::kGreater, size_t{1}};
    case '=':
      if (next == '=') return {Kind::kEqual, 2};
      break;
    case '&':
      if (next == '&') return {Kind::kAnd, 2};
      break;
    case '|':
      if (next == '|') return {Kind::kOr, 2};
      break;
    default:
      break;
  }
  return {Kind::kEnd, 0};
}

}  // namespace

Position PositionOf(absl::string_view source, size_t offset) {
  Position position;
  for (size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++position.line;
      position.column = 1;
    } else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) {
      ++position.column;
    }
  }
  return position;
}

std::string DescribePosition(absl::string_view source, size_t offset) {
  const Position position = PositionOf(source, offset);
  if (source.find('\n') == absl::string_view::npos) {
    return absl::StrCat("column ", position.column);
  }
  return absl::StrCat("line ", position.line, ", column ", position.column);
}

absl::StatusOr<std::vector<Token>> Lex(absl::string_view source) {
  std::vector<Token> tokens;
  size_t pos = 0;
  while (true) {
    while (pos < source.size() &&
           (source[pos] == ' ' || source[pos] == '\t' || source[pos] == '\n' ||
            source[pos] == '\r')) {
      ++pos;
    }
    Token token;
    token.offset = pos;
    if (pos == source.size()) {
      tokens.push_back(std::move(token));
      return tokens;
    }
    const char c = source[pos];
    size_t end = pos + 1;
    const bool raw_string = (c == 'r' || c == 'R') && end < source.size() &&
                            (source[end] == '"' || source[end] == '\'');
    if (c == '"' || c == '\'' || raw_string) {
      token.kind = Token::Kind::kString;
      const absl::Status lexed =
          LexString(source, pos, raw_string ? pos + 1 : pos, raw_string, &end,
                    &token.string);
      if (!lexed.ok()) return lexed;
    } else if (IsIdentifierStart(c)) {
      while (end < source.size() && IsIdentifierPart(source[end])) ++end;
      const absl::string_view word = source.substr(pos, end - pos);
      token.kind = word == "true"    ? Token::Kind::kTrue
                   : word == "false" ? Token::Kind::kFalse
                   : word == "null"  ? Token::Kind::kNull
                   : word == "in"    ? Token::Kind::kIn
                                     : Token::Kind::kIdentifier;
    } else if (absl::ascii_isdigit(c)) {
      uint64_t value = 0;
      end = pos;
      bool overflow = false;
      while (end < source.size() && absl::ascii_isdigit(source[end])) {
        const uint64_t digit = static_cast<uint64_t>(source[end] - '0');
        if (value > (uint64_t{1} << 63) / 10 ||
            value * 10 + digit > (uint64_t{1} << 63)) {
          overflow = true;
        } else {
          value = value * 10 + digit;
        }
        ++end;
      }
      if (end < source.size() && IsIdentifierPart(source[end])) {
        return ErrorAt(source, end,
                       "expected an operator or a space after the integer");
      }
      if (overflow) {
        return ErrorAt(source, pos,
                       "expected an integer within 64 bits (signed)");
      }
      token.kind = Token::Kind::kInteger;
      token.integer = value;
    } else {
      const auto [kind, length] = Operator(source, pos);
      if (length == 0) {
        const absl::string_view what = source.substr(pos, 1);
        if (c == '=') {
          return ErrorAt(source, pos, "expected \"==\", got \"=\"");
        }
        if (c == '&' || c == '|') {
          return ErrorAt(source, pos,
                         absl::StrCat("expected \"", what, what, "\", got \"",
                                      what, "\""));
        }
        if (static_cast<unsigned char>(c) < 0x80 && absl::ascii_isprint(c)) {
          return ErrorAt(source, pos,
                         absl::StrCat("expected an operand or an operator, "
                                      "got \"",
                                      what, "\""));
        }
        return ErrorAt(source, pos,
                       "expected an operand or an operator, got a character "
                       "outside a string");
      }
      token.kind = kind;
      end = pos + length;
    }
    token.text = source.substr(pos, end - pos);
    tokens.push_back(std::move(token));
    pos = end;
  }
}

std::string Describe(const Token& token) {
  if (token.kind == Token::Kind::kEnd) return "the end of the expression";
  constexpr size_t kShown = 24;
  absl::string_view text = token.text;
  absl::string_view more;
  if (text.size() > kShown) {
    // Cut at a character boundary: the message must stay valid UTF-8.
    size_t cut = kShown;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    text = text.substr(0, cut);
    more = "...";
  }
  switch (token.kind) {
    case Token::Kind::kString:
      return absl::StrCat("the string ", text, more);
    case Token::Kind::kInteger:
      return absl::StrCat("the integer ", text, more);
    default:
      return absl::StrCat("\"", text, more, "\"");
  }
}

}  // namespace eventbus::filter

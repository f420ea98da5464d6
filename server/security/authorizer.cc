#include "server/security/authorizer.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/file.h"
#include "base/metadata.h"
#include "base/status_macros.h"
#include "base/text.h"

namespace eventbus {
namespace {

constexpr size_t kMinTokenLength = 16;
constexpr const char* kAuthorizationKey = kAuthorizationMetadataKey;
constexpr absl::string_view kBearer = kBearerPrefix;

// Abseil here has its own string_view; the public interface uses std's.
absl::string_view View(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

std::string_view StdView(absl::string_view text) {
  return std::string_view(text.data(), text.size());
}

bool IsTokenCharacter(char c) { return c > ' ' && c < 0x7f; }

const char* RightName(Right right) {
  switch (right) {
    case Right::kPublish:
      return "publish";
    case Right::kSubscribe:
      return "subscribe";
    case Right::kAdmin:
      return "administer";
  }
  return "?";
}

bool Has(Grants grants, Right right) {
  switch (right) {
    case Right::kPublish:
      return grants.publish;
    case Right::kSubscribe:
      return grants.subscribe;
    case Right::kAdmin:
      return grants.admin;
  }
  return false;
}

// One entry "TOKEN GRANTS [NAME]"; `where` prefixes messages and is the
// default name.
absl::StatusOr<TokenEntry> ParseTokenEntry(absl::string_view entry,
                                           const std::string& where) {
  const std::vector<absl::string_view> fields =
      absl::StrSplit(entry, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
  if (fields.size() < 2 || fields.size() > 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected \"TOKEN GRANTS [NAME]\", got ",
                     fields.size(), fields.size() == 1 ? " field" : " fields"));
  }
  if (fields[0].size() < kMinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": the token is shorter than ", kMinTokenLength, " characters"));
  }
  if (!std::all_of(fields[0].begin(), fields[0].end(), IsTokenCharacter)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": the token must be visible ASCII characters only"));
  }
  absl::StatusOr<Grants> grants = ParseGrants(StdView(fields[1]));
  if (!grants.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", grants.status().message()));
  }
  return TokenEntry{
      .token = std::string(fields[0]),
      .grants = *grants,
      .name = fields.size() == 3 ? std::string(fields[2]) : where};
}

}  // namespace

absl::StatusOr<std::vector<TokenEntry>> ParseTokenEntries(
    std::string_view text, std::string_view source, char separator) {
  std::vector<TokenEntry> entries;
  int number = 0;
  for (absl::string_view entry : absl::StrSplit(View(text), separator)) {
    ++number;
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty() || absl::StartsWith(entry, "#")) continue;
    const std::string where =
        separator == '\n' ? absl::StrCat(View(source), ":", number)
                          : absl::StrCat(View(source), " entry ", number);
    EVENTBUS_ASSIGN_OR_RETURN(TokenEntry parsed, ParseTokenEntry(entry, where));
    entries.push_back(std::move(parsed));
  }
  return entries;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(
    std::vector<TokenEntry> tokens, std::map<std::string, Grants> subjects,
    DigestEquals digest_equals) {
  return Build({}, std::move(tokens), {}, std::move(subjects), digest_equals);
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Build(
    std::vector<Token> digests, std::vector<TokenEntry> tokens,
    std::vector<TokenEntry> environment_tokens,
    std::map<std::string, Grants> subjects, DigestEquals digest_equals) {
  const size_t from_file = tokens.size();
  std::move(environment_tokens.begin(), environment_tokens.end(),
            std::back_inserter(tokens));
  digests.reserve(digests.size() + tokens.size());
  // Every secret is erased as soon as its digest is taken, also those after
  // a duplicate.
  absl::Status duplicate;
  for (size_t i = 0; i < tokens.size(); ++i) {
    TokenEntry& entry = tokens[i];
    Token token{.digest = Sha256(entry.token),
                .grants = entry.grants,
                .name = std::move(entry.name),
                .from_environment = i >= from_file};
    OPENSSL_cleanse(entry.token.data(), entry.token.size());
    if (!duplicate.ok()) continue;
    for (const Token& earlier : digests) {
      if (earlier.digest == token.digest) {
        duplicate = absl::InvalidArgumentError(
            absl::StrCat("the same token is defined twice: ", earlier.name,
                         " and ", token.name));
      }
    }
    digests.push_back(std::move(token));
  }
  if (!duplicate.ok()) return duplicate;
  return std::unique_ptr<Authorizer>(
      new Authorizer(std::move(digests), std::move(subjects), digest_equals));
}

absl::StatusOr<std::vector<TokenEntry>> Authorizer::ReadTokensFile(
    const std::string& path) {
  std::vector<TokenEntry> tokens;
  if (path.empty()) return tokens;
  EVENTBUS_ASSIGN_OR_RETURN(std::string text,
                            ReadSettingFile("auth.tokens_file", path));
  absl::StatusOr<std::vector<TokenEntry>> entries =
      ParseTokenEntries(text, path, '\n');
  OPENSSL_cleanse(text.data(), text.size());
  if (!entries.ok()) return entries.status();
  if (entries->empty()) {
    // Not "no authentication": the operator asked for tokens.
    return absl::InvalidArgumentError(
        absl::StrCat("auth.tokens_file: ", path, " defines no token"));
  }
  return entries;
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Reloaded(
    const std::string& tokens_file,
    std::map<std::string, Grants> subjects) const {
  absl::StatusOr<std::vector<TokenEntry>> tokens = ReadTokensFile(tokens_file);
  if (!tokens.ok() &&
      !absl::StartsWith(tokens.status().message(), "auth.tokens_file")) {
    // FILE:LINE: ...: name the key too.
    return absl::InvalidArgumentError(
        absl::StrCat("auth.tokens_file: ", tokens.status().message()));
  }
  if (!tokens.ok()) return tokens.status();
  std::vector<Token> kept;
  for (const Token& token : tokens_) {
    if (token.from_environment) kept.push_back(token);
  }
  if (enabled() && kept.empty() && tokens->empty() && subjects.empty()) {
    // As at start: authentication is never turned off by accident.
    return absl::InvalidArgumentError(
        "auth.tokens_file: the reload leaves no token and no subject, which "
        "would turn authentication off; restart to do that");
  }
  return Build(std::move(kept), *std::move(tokens), {}, std::move(subjects),
               digest_equals_);
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::FromOptions(
    Options options) {
  EVENTBUS_ASSIGN_OR_RETURN(std::vector<TokenEntry> tokens,
                            ReadTokensFile(options.tokens_file));
  std::vector<TokenEntry> environment;
  if (!options.tokens.empty()) {
    absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenEntries(
        options.tokens, "environment EVENTBUS_AUTH_TOKENS", ';');
    OPENSSL_cleanse(options.tokens.data(), options.tokens.size());
    if (!entries.ok()) return entries.status();
    if (entries->empty()) {
      return absl::InvalidArgumentError(
          "environment EVENTBUS_AUTH_TOKENS defines no token");
    }
    environment = *std::move(entries);
  }
  return Build({}, std::move(tokens), std::move(environment),
               std::move(options.subjects), &ConstantTimeEquals);
}

std::vector<std::string> Authorizer::Describe() const {
  std::vector<std::string> lines;
  for (const Token& token : tokens_) {
    lines.push_back(absl::StrCat("token ", EscapeForLog(token.name), " (",
                                 FormatGrants(token.grants), ")"));
  }
  for (const auto& [name, grants] : subjects_) {
    lines.push_back(absl::StrCat("subject ", EscapeForLog(name), " (",
                                 FormatGrants(grants), ")"));
  }
  return lines;
}

Authorizer::Digest Authorizer::Sha256(std::string_view text) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         digest.data());
  return digest;
}

const Authorizer::Token* Authorizer::FindToken(std::string_view token) const {
  const Digest presented = Sha256(token);
  const std::string_view presented_view(
      reinterpret_cast<const char*>(presented.data()), presented.size());
  const Token* found = nullptr;
  // Every entry is compared, so the time does not tell which one matched.
  for (const Token& entry : tokens_) {
    const bool equal = digest_equals_(
        std::string_view(reinterpret_cast<const char*>(entry.digest.data()),
                         entry.digest.size()),
        presented_view);
    if (equal) found = &entry;
  }
  return found;
}

absl::Status Authorizer::Authorize(const CallCredentials& credentials,
                                   Right right) const {
  if (!enabled()) return absl::OkStatus();
  if (credentials.authorization.has_value()) {
    const absl::string_view value = View(*credentials.authorization);
    // The scheme is case-insensitive (RFC 6750).
    const absl::string_view token =
        absl::StartsWithIgnoreCase(value, kBearer)
            ? absl::StripAsciiWhitespace(value.substr(kBearer.size()))
            : absl::string_view();
    if (token.empty()) {
      return absl::UnauthenticatedError(
          "the authorization metadata must be \"Bearer TOKEN\"");
    }
    const Token* found = FindToken(StdView(token));
    if (found == nullptr) {
      return absl::UnauthenticatedError("unknown bearer token");
    }
    if (!Has(found->grants, right)) {
      return absl::PermissionDeniedError(
          absl::StrCat("token ", found->name, " may not ", RightName(right),
                       " (it grants ", FormatGrants(found->grants), ")"));
    }
    return absl::OkStatus();
  }
  if (!subjects_.empty() && !credentials.certificate_names.empty()) {
    for (std::string_view name : credentials.certificate_names) {
      const auto it = subjects_.find(std::string(name));
      if (it == subjects_.end()) continue;
      if (Has(it->second, right)) return absl::OkStatus();
      return absl::PermissionDeniedError(absl::StrCat(
          "certificate subject ", View(name), " may not ", RightName(right),
          " (auth.subjects grants it ", FormatGrants(it->second), ")"));
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate subject ", View(credentials.certificate_names.front()),
        " has no grants in auth.subjects, and no bearer token was sent"));
  }
  return absl::UnauthenticatedError(
      "missing credentials: send the metadata \"authorization: Bearer "
      "TOKEN\"");
}

absl::Status Authorizer::Authorize(const grpc::ServerContextBase& context,
                                   Right right) const {
  if (!enabled()) return absl::OkStatus();
  CallCredentials credentials;
  const auto& metadata = context.client_metadata();
  if (const auto it = metadata.find(kAuthorizationKey); it != metadata.end()) {
    credentials.authorization =
        std::string_view(it->second.data(), it->second.size());
  }
  std::shared_ptr<const grpc::AuthContext> auth_context;
  std::vector<grpc::string_ref> names;
  if (!subjects_.empty()) {
    auth_context = context.auth_context();
    if (auth_context != nullptr && auth_context->IsPeerAuthenticated()) {
      names = auth_context->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
    }
    for (const grpc::string_ref& name : names) {
      credentials.certificate_names.emplace_back(name.data(), name.size());
    }
  }
  return Authorize(credentials, right);
}

}  // namespace eventbus

// Authorizer: decides whether a call may publish or subscribe, from its
// bearer token (`authorization: Bearer TOKEN` metadata) or, with mTLS, the
// common name of its verified client certificate.
//
// Tokens come from auth.tokens_file and EVENTBUS_AUTH_TOKENS, as entries
// "TOKEN GRANTS [NAME]" (GRANTS: publish, subscribe, admin, or several
// joined by commas: publish,subscribe,admin).
// The authorizer keeps only each token's SHA-256 digest, and compares the
// digest of a presented token with every known digest in constant time,
// without stopping at a match: neither the time taken nor the memory kept
// gives a token away. No message and no log line holds a token; they name
// the entry (its NAME, or FILE:LINE).
//
// When enabled() (a token or a subject is configured), a call gets:
//   - a known token with the right:                          OK
//   - a known token without it:                              PERMISSION_DENIED
//   - an unknown token, or `authorization` not "Bearer T":   UNAUTHENTICATED
//   - no token, a certificate CN listed in auth.subjects:    by its grants
//   - no token, a certificate CN not listed (with subjects): PERMISSION_DENIED
//   - no token and no listed certificate:                    UNAUTHENTICATED
// A token, when sent, decides alone. When not enabled, every call may do
// everything. Health and reflection are other services: never checked.
//
// Immutable once created: thread-safe.
#ifndef EVENTBUS_SERVER_SECURITY_AUTHORIZER_H_
#define EVENTBUS_SERVER_SECURITY_AUTHORIZER_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/security/grants.h"

namespace eventbus {

// What a call asks to do.
enum class Right { kPublish, kSubscribe, kAdmin };

// One configured bearer token.
struct TokenEntry {
  std::string token;
  Grants grants;
  // For logs and messages: the entry's NAME, or where it was defined.
  std::string name;
};

// Parses token entries "TOKEN GRANTS [NAME]" (fields separated by blanks).
// With `separator` '\n' (a file) errors read "SOURCE:LINE: ..."; with ';'
// (EVENTBUS_AUTH_TOKENS) "SOURCE: entry N: ...". Blank entries and entries
// starting with '#' are skipped. A token is at least 16 visible ASCII
// characters. Errors: InvalidArgument, never quoting a token. An entry
// without NAME is named "SOURCE:LINE" or "SOURCE entry N".
absl::StatusOr<std::vector<TokenEntry>> ParseTokenEntries(
    std::string_view text, std::string_view source, char separator);

// Whether a and b hold the same bytes, in a time that depends only on their
// lengths (OpenSSL's CRYPTO_memcmp).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The credentials of one call, as the service sees them.
struct CallCredentials {
  // The `authorization` metadata value; nullopt when absent.
  std::optional<std::string_view> authorization;
  // Common names of the client's verified certificate; empty without one.
  std::vector<std::string_view> certificate_names;
};

class Authorizer {
 public:
  // Compares two SHA-256 digests. Tests substitute it to count comparisons.
  using DigestEquals = bool (*)(std::string_view, std::string_view);

  // An authorizer for these tokens and certificate subjects (common name ->
  // grants). Errors: InvalidArgument for two entries with the same token
  // (naming both entries).
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(
      std::vector<TokenEntry> tokens, std::map<std::string, Grants> subjects,
      DigestEquals digest_equals = &ConstantTimeEquals);

  // Where the tokens and subjects come from (auth.* in the config).
  struct Options {
    // auth.tokens_file: a file of lines "TOKEN GRANTS [NAME]"; empty: none.
    std::string tokens_file;
    // EVENTBUS_AUTH_TOKENS: entries "TOKEN GRANTS [NAME]" separated by ';';
    // empty: none. A secret: FromOptions erases it.
    std::string tokens;
    // auth.subjects: certificate common name -> grants.
    std::map<std::string, Grants> subjects;
  };

  // Reads options.tokens_file, parses options.tokens and takes the
  // subjects; the token text is erased from memory once hashed. Errors:
  // InvalidArgument naming the key and file ("auth.tokens_file: cannot read
  // PATH: ..."), the file and line, or the environment entry; a file or
  // variable that defines no token is an error too, lest authentication be
  // silently off.
  static absl::StatusOr<std::unique_ptr<Authorizer>> FromOptions(
      Options options);

  // For a reload (SIGHUP): an authorizer with the tokens of `tokens_file`
  // (read again; empty: none), `subjects`, and this one's tokens from
  // EVENTBUS_AUTH_TOKENS (whose text was erased at start; the environment
  // cannot change anyway). Errors: FromOptions's, and InvalidArgument when
  // this one is enabled and the new one would not be (turning
  // authentication off takes a restart, as at start, where a tokens file
  // without a token is refused).
  absl::StatusOr<std::unique_ptr<Authorizer>> Reloaded(
      const std::string& tokens_file,
      std::map<std::string, Grants> subjects) const;

  // Whether calls are checked at all.
  bool enabled() const { return !tokens_.empty() || !subjects_.empty(); }
  size_t token_count() const { return tokens_.size(); }
  size_t subject_count() const { return subjects_.size(); }
  // "NAME (GRANTS)" of every token then every subject, for the start-up log
  // (names escaped for it).
  std::vector<std::string> Describe() const;

  // OK when `credentials` carry `right`; otherwise the status of the table
  // above, with a message that names no token.
  absl::Status Authorize(const CallCredentials& credentials, Right right) const;

  // The same for a gRPC call: its `authorization` metadata and, when
  // subjects are configured, the x509_common_name of its auth context.
  absl::Status Authorize(const grpc::ServerContextBase& context,
                         Right right) const;

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Token {
    Digest digest;
    Grants grants;
    std::string name;
    bool from_environment = false;
  };

  // `digests` (kept from another authorizer), then `tokens` and
  // `environment_tokens` hashed and erased; refuses a token twice.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Build(
      std::vector<Token> digests, std::vector<TokenEntry> tokens,
      std::vector<TokenEntry> environment_tokens,
      std::map<std::string, Grants> subjects, DigestEquals digest_equals);
  // The entries of auth.tokens_file (none for an empty path).
  static absl::StatusOr<std::vector<TokenEntry>> ReadTokensFile(
      const std::string& path);

  Authorizer(std::vector<Token> tokens, std::map<std::string, Grants> subjects,
             DigestEquals digest_equals)
      : tokens_(std::move(tokens)),
        subjects_(std::move(subjects)),
        digest_equals_(digest_equals) {}

  static Digest Sha256(std::string_view text);
  // The entry whose token is `token`, comparing against every entry.
  const Token* FindToken(std::string_view token) const;

  const std::vector<Token> tokens_;
  const std::map<std::string, Grants> subjects_;
  const DigestEquals digest_equals_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_SECURITY_AUTHORIZER_H_

#include "server/security/authorizer.h"

#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::StatusIs;
using ::eventbus::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr Grants kPublish = {.publish = true};
constexpr Grants kSubscribe = {.subscribe = true};
constexpr Grants kBoth = {.publish = true, .subscribe = true};

constexpr char kPublisherToken[] = "pub-0123456789abcdef";
constexpr char kMonitorToken[] = "mon-0123456789abcdef";
constexpr char kAdminToken[] = "adm-0123456789abcdef";

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

std::vector<TokenEntry> ThreeTokens() {
  return {{kPublisherToken, kPublish, "opsml"},
          {kMonitorToken, kSubscribe, "monitor"},
          {kAdminToken, kBoth, "admin"}};
}

std::unique_ptr<Authorizer> Make(
    std::vector<TokenEntry> tokens, std::map<std::string, Grants> subjects = {},
    Authorizer::DigestEquals equals = &ConstantTimeEquals) {
  auto authorizer =
      Authorizer::Create(std::move(tokens), std::move(subjects), equals);
  EXPECT_TRUE(authorizer.ok()) << authorizer.status();
  return std::move(*authorizer);
}

CallCredentials Bearer(const std::string& value,
                       std::vector<std::string_view> names = {}) {
  // A deque never moves its elements: the views stay valid.
  static std::deque<std::string>* values = new std::deque<std::string>();
  values->push_back("Bearer " + value);
  return {.authorization = values->back(), .certificate_names = names};
}

CallCredentials Certificate(std::string_view name) {
  return {.certificate_names = {name}};
}

// --- Token entries.

TEST(ParseTokenEntriesTest, FileLinesWithCommentsAndNames) {
  const absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenEntries(
      "# publishers\n"
      "\n"
      "pub-0123456789abcdef  publish   opsml\n"
      "  mon-0123456789abcdef\tsubscribe\r\n"
      "adm-0123456789abcdef publish,subscribe admin\n",
      "/etc/eventbus/tokens", '\n');
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].token, kPublisherToken);
  EXPECT_EQ((*entries)[0].grants, kPublish);
  EXPECT_EQ((*entries)[0].name, "opsml");
  EXPECT_EQ((*entries)[1].token, kMonitorToken);
  EXPECT_EQ((*entries)[1].grants, kSubscribe);
  EXPECT_EQ((*entries)[1].name, "/etc/eventbus/tokens:4");
  EXPECT_EQ((*entries)[2].grants, kBoth);
}

TEST(ParseTokenEntriesTest, EnvironmentEntries) {
  const absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenEntries(
      "pub-0123456789abcdef publish opsml; ;mon-0123456789abcdef subscribe",
      "environment EVENTBUS_AUTH_TOKENS", ';');
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "opsml");
  EXPECT_EQ((*entries)[1].name, "environment EVENTBUS_AUTH_TOKENS entry 3");
}

TEST(ParseTokenEntriesTest, ErrorsNameTheLineAndNeverTheToken) {
  const std::map<std::string, std::string> errors = {
      {"# ok\nsecret-0123456789abcdef\n",
       "tokens:2: expected \"TOKEN GRANTS [NAME]\", got 1 field"},
      {"secret-0123456789abcdef publish a b\n",
       "tokens:1: expected \"TOKEN GRANTS [NAME]\", got 4 fields"},
      {"\n\nsecret publish\n",
       "tokens:3: the token is shorter than 16 characters"},
      {"secret-0123456789abcdef\x7f publish\n",
       "tokens:1: the token must be visible ASCII characters only"},
      {"secret-0123456789abcdef write\n",
       "tokens:1: grants must be publish, subscribe, admin or several of them "
       "joined by commas, got \"write\""},
  };
  for (const auto& [text, message] : errors) {
    const absl::Status status =
        ParseTokenEntries(text, "tokens", '\n').status();
    EXPECT_EQ(status, Invalid(message)) << text;
    EXPECT_THAT(status.message(), Not(HasSubstr("secret"))) << text;
  }
  EXPECT_EQ(ParseTokenEntries("pub-0123456789abcdef publish;x y", "env", ';')
                .status(),
            Invalid("env entry 2: the token is shorter than 16 characters"));
}

TEST(AuthorizerTest, DuplicateTokensNameBothEntriesOnly) {
  const absl::Status status =
      Authorizer::Create({{kPublisherToken, kPublish, "opsml"},
                          {kPublisherToken, kBoth, "tokens:7"}},
                         {})
          .status();
  EXPECT_EQ(status, Invalid("the same token is defined twice: opsml and "
                            "tokens:7"));
}

// --- Decisions.

TEST(AuthorizerTest, DisabledAllowsEverything) {
  const auto authorizer = Make({});
  EXPECT_FALSE(authorizer->enabled());
  EXPECT_TRUE(authorizer->Authorize(CallCredentials{}, Right::kPublish).ok());
  EXPECT_TRUE(
      authorizer->Authorize(Bearer("anything"), Right::kSubscribe).ok());
}

TEST(AuthorizerTest, TokensCarryTheirGrants) {
  const auto authorizer = Make(ThreeTokens());
  EXPECT_TRUE(authorizer->enabled());
  EXPECT_TRUE(
      authorizer->Authorize(Bearer(kPublisherToken), Right::kPublish).ok());
  EXPECT_TRUE(
      authorizer->Authorize(Bearer(kMonitorToken), Right::kSubscribe).ok());
  EXPECT_TRUE(authorizer->Authorize(Bearer(kAdminToken), Right::kPublish).ok());
  EXPECT_TRUE(
      authorizer->Authorize(Bearer(kAdminToken), Right::kSubscribe).ok());
  EXPECT_EQ(authorizer->Authorize(Bearer(kMonitorToken), Right::kPublish),
            absl::PermissionDeniedError(
                "token monitor may not publish (it grants subscribe)"));
  EXPECT_EQ(authorizer->Authorize(Bearer(kPublisherToken), Right::kSubscribe),
            absl::PermissionDeniedError(
                "token opsml may not subscribe (it grants publish)"));
}

TEST(AuthorizerTest, AdminIsItsOwnGrant) {
  const auto authorizer =
      Make({{kPublisherToken, kBoth, "opsml"},
            {kMonitorToken, {.subscribe = true, .admin = true}, "top"},
            {kAdminToken, {.admin = true}, "ops"}});
  EXPECT_EQ(
      authorizer->Authorize(Bearer(kPublisherToken), Right::kAdmin),
      absl::PermissionDeniedError(
          "token opsml may not administer (it grants publish,subscribe)"));
  EXPECT_TRUE(authorizer->Authorize(Bearer(kMonitorToken), Right::kAdmin).ok());
  EXPECT_TRUE(
      authorizer->Authorize(Bearer(kMonitorToken), Right::kSubscribe).ok());
  EXPECT_TRUE(authorizer->Authorize(Bearer(kAdminToken), Right::kAdmin).ok());
  EXPECT_EQ(authorizer->Authorize(Bearer(kAdminToken), Right::kPublish),
            absl::PermissionDeniedError(
                "token ops may not publish (it grants admin)"));
}

TEST(AuthorizerTest, MissingUnknownOrMalformedTokensAreUnauthenticated) {
  const auto authorizer = Make(ThreeTokens());
  EXPECT_EQ(authorizer->Authorize(CallCredentials{}, Right::kPublish),
            absl::UnauthenticatedError(
                "missing credentials: send the metadata \"authorization: "
                "Bearer TOKEN\""));
  const absl::Status unknown =
      absl::UnauthenticatedError("unknown bearer token");
  // Near misses: the last character, a prefix, an extension, the case.
  for (const std::string token :
       {"pub-0123456789abcdeF", "pub-0123456789abcde", "pub-0123456789abcdef0",
        "PUB-0123456789ABCDEF", "somebody-else-entirely"}) {
    EXPECT_EQ(authorizer->Authorize(Bearer(token), Right::kPublish), unknown)
        << token;
  }
  const absl::Status malformed = absl::UnauthenticatedError(
      "the authorization metadata must be \"Bearer TOKEN\"");
  for (const std::string_view value :
       {"", "Bearer", "Bearer ", "Basic cHViOnNlY3JldA==", kPublisherToken}) {
    EXPECT_EQ(authorizer->Authorize(CallCredentials{.authorization = value},
                                    Right::kPublish),
              malformed)
        << value;
  }
  // The scheme is case-insensitive; blanks around the token do not count.
  const std::string lower = absl::StrCat("bearer  ", kPublisherToken, " ");
  EXPECT_TRUE(
      authorizer
          ->Authorize(CallCredentials{.authorization = lower}, Right::kPublish)
          .ok());
}

TEST(AuthorizerTest, MessagesNeverHoldTheToken) {
  const auto authorizer = Make(ThreeTokens());
  for (const std::string& token :
       {std::string(kMonitorToken), std::string("wrong-0123456789abcdef")}) {
    const absl::Status status =
        authorizer->Authorize(Bearer(token), Right::kPublish);
    EXPECT_FALSE(status.ok());
    EXPECT_THAT(status.message(), Not(HasSubstr(token)));
    EXPECT_THAT(status.message(), Not(HasSubstr("0123456789")));
  }
  for (const std::string& line : authorizer->Describe()) {
    EXPECT_THAT(line, Not(HasSubstr("0123456789")));
  }
  EXPECT_EQ(authorizer->Describe(),
            (std::vector<std::string>{"token opsml (publish)",
                                      "token monitor (subscribe)",
                                      "token admin (publish,subscribe)"}));
}

TEST(AuthorizerTest, CertificateSubjectsCarryTheirGrants) {
  const auto authorizer =
      Make(ThreeTokens(), {{"opsml-server", kPublish}, {"monitor", kBoth}});
  EXPECT_EQ(authorizer->subject_count(), 2u);
  EXPECT_TRUE(
      authorizer->Authorize(Certificate("opsml-server"), Right::kPublish).ok());
  EXPECT_TRUE(
      authorizer->Authorize(Certificate("monitor"), Right::kSubscribe).ok());
  EXPECT_EQ(
      authorizer->Authorize(Certificate("opsml-server"), Right::kSubscribe),
      absl::PermissionDeniedError("certificate subject opsml-server may not "
                                  "subscribe (auth.subjects grants it "
                                  "publish)"));
  EXPECT_EQ(authorizer->Authorize(Certificate("stranger"), Right::kPublish),
            absl::PermissionDeniedError(
                "certificate subject stranger has no grants in auth.subjects, "
                "and no bearer token was sent"));
}

TEST(AuthorizerTest, ATokenDecidesAloneWhenSent) {
  const auto authorizer = Make(ThreeTokens(), {{"monitor", kBoth}});
  // A certificate with every right does not rescue a bad token...
  EXPECT_EQ(authorizer->Authorize(Bearer("wrong-0123456789abcdef", {"monitor"}),
                                  Right::kPublish),
            absl::UnauthenticatedError("unknown bearer token"));
  // ...nor widen a token's grants.
  EXPECT_THAT(authorizer->Authorize(Bearer(kMonitorToken, {"monitor"}),
                                    Right::kPublish),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(AuthorizerTest, SubjectsAloneEnableChecks) {
  const auto authorizer = Make({}, {{"opsml-server", kPublish}});
  EXPECT_TRUE(authorizer->enabled());
  EXPECT_THAT(authorizer->Authorize(CallCredentials{}, Right::kPublish),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(authorizer->Authorize(Bearer(kAdminToken), Right::kPublish),
            absl::UnauthenticatedError("unknown bearer token"));
}

// --- Constant-time comparison.

int comparisons = 0;
bool CountingEquals(std::string_view a, std::string_view b) {
  ++comparisons;
  return ConstantTimeEquals(a, b);
}

TEST(AuthorizerTest, EveryTokenIsComparedWhateverMatches) {
  const auto authorizer = Make(ThreeTokens(), {}, &CountingEquals);
  for (const std::string token :
       {kPublisherToken, kMonitorToken, kAdminToken, "none-0123456789abcdef"}) {
    comparisons = 0;
    (void)authorizer->Authorize(Bearer(token), Right::kPublish);
    EXPECT_EQ(comparisons, 3) << token;
  }
}

TEST(AuthorizerTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "xbc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0c", 3),
                                  std::string_view("a\0d", 3)));
}

// --- From the options (auth.* in the config).

TEST(AuthorizerTest, FromOptionsReadsTheFileAndTheEnvironment) {
  const TempDir dir("eventbus-authorizer");
  Authorizer::Options options;
  options.tokens_file = dir.WriteFile(
      "tokens", "pub-0123456789abcdef publish opsml\n# comment\n");
  options.tokens = "mon-0123456789abcdef subscribe monitor";
  const auto authorizer = Authorizer::FromOptions(options);
  ASSERT_TRUE(authorizer.ok()) << authorizer.status();
  EXPECT_EQ((*authorizer)->token_count(), 2u);
  EXPECT_TRUE(
      (*authorizer)->Authorize(Bearer(kPublisherToken), Right::kPublish).ok());
  EXPECT_TRUE(
      (*authorizer)->Authorize(Bearer(kMonitorToken), Right::kSubscribe).ok());
}

TEST(AuthorizerTest, FromOptionsErrorsNameTheSource) {
  const TempDir dir("eventbus-authorizer");
  Authorizer::Options options;
  options.tokens_file = "/nonexistent/tokens";
  EXPECT_EQ(Authorizer::FromOptions(options).status(),
            Invalid("auth.tokens_file: cannot read /nonexistent/tokens: No "
                    "such file or directory"));
  options.tokens_file =
      dir.WriteFile("bad-tokens", "pub-0123456789abcdef publish\nshort x\n");
  EXPECT_EQ(Authorizer::FromOptions(options).status(),
            Invalid(options.tokens_file +
                    ":2: the token is shorter than 16 characters"));
  options.tokens_file = dir.WriteFile("no-tokens", "# none yet\n\n");
  EXPECT_EQ(Authorizer::FromOptions(options).status(),
            Invalid("auth.tokens_file: " + options.tokens_file +
                    " defines no token"));
  options.tokens_file.clear();
  options.tokens = " ; ";
  EXPECT_EQ(Authorizer::FromOptions(options).status(),
            Invalid("environment EVENTBUS_AUTH_TOKENS defines no token"));
  options.tokens = "pub-0123456789abcdef publush";
  EXPECT_EQ(Authorizer::FromOptions(options).status(),
            Invalid("environment EVENTBUS_AUTH_TOKENS entry 1: grants must be "
                    "publish, subscribe, admin or several of them joined by "
                    "commas, got \"publush\""));
}

}  // namespace
}  // namespace eventbus

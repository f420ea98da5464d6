#include "tests/testing/status_matchers.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eventbus::testing {
namespace {

using ::testing::AnyOf;
using ::testing::DescribeMatcher;
using ::testing::Eq;
using ::testing::ExplainMatchResult;
using ::testing::Gt;
using ::testing::HasSubstr;
using ::testing::Matcher;
using ::testing::Not;
using ::testing::Pointee;
using ::testing::StringMatchResultListener;

// What `matcher` says about `value` when it does not match it.
template <typename T, typename M>
std::string Explain(const M& matcher, const T& value) {
  StringMatchResultListener listener;
  EXPECT_FALSE(ExplainMatchResult(matcher, value, &listener));
  return listener.str();
}

TEST(StatusIsTest, MatchesTheCodeOfAStatus) {
  const absl::Status status = absl::NotFoundError("no such file");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument)));
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(status, StatusIs(AnyOf(absl::StatusCode::kNotFound,
                                     absl::StatusCode::kUnavailable)));
}

TEST(StatusIsTest, MatchesTheCodeOfAStatusOr) {
  const absl::StatusOr<int> error = absl::UnavailableError("closed");
  EXPECT_THAT(error, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(absl::StatusOr<int>(7), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(absl::StatusOr<int>(7),
              Not(StatusIs(absl::StatusCode::kUnavailable)));
  // Move-only values too.
  const absl::StatusOr<std::unique_ptr<int>> pointer = absl::InternalError("x");
  EXPECT_THAT(pointer, StatusIs(absl::StatusCode::kInternal));
}

TEST(StatusIsTest, MatchesTheMessage) {
  const absl::Status status = absl::InvalidArgumentError("line 2: bad key");
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kInvalidArgument, "line 2: bad key"));
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line")));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("line 3"))));
  EXPECT_THAT(status,
              Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("line 2"))));
  EXPECT_THAT(absl::StatusOr<int>(status),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad")));
}

TEST(StatusIsTest, DescribesItselfAndTheMismatch) {
  const Matcher<const absl::Status&> code =
      StatusIs(absl::StatusCode::kNotFound);
  EXPECT_EQ(DescribeMatcher<const absl::Status&>(code),
            "has a status code that is equal to NOT_FOUND");
  EXPECT_EQ(DescribeMatcher<const absl::Status&>(code, /*negation=*/true),
            "has a status code that isn't equal to NOT_FOUND");
  EXPECT_EQ(Explain(code, absl::UnavailableError("closed")),
            "whose code is UNAVAILABLE");
  EXPECT_EQ(Explain(code, absl::OkStatus()), "whose code is OK");

  const Matcher<const absl::StatusOr<int>&> message =
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("file"));
  EXPECT_EQ(DescribeMatcher<const absl::StatusOr<int>&>(message),
            "has a status code that is equal to NOT_FOUND, and a message "
            "that has substring \"file\"");
  EXPECT_EQ(Explain(message, absl::StatusOr<int>(absl::NotFoundError("dir"))),
            "whose message \"dir\" doesn't match");
  EXPECT_EQ(Explain(message, absl::StatusOr<int>(absl::InternalError("file"))),
            "whose code is INTERNAL");
  EXPECT_EQ(::testing::PrintToString(absl::StatusOr<int>(3)), "OK: 3");
  EXPECT_EQ(
      ::testing::PrintToString(absl::StatusOr<int>(absl::NotFoundError("dir"))),
      "NOT_FOUND: dir");
}

TEST(IsOkTest, MatchesOkStatusesAndStatusOrsWithAValue) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(3), IsOk());
  EXPECT_THAT(absl::CancelledError(), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(absl::CancelledError()), Not(IsOk()));
  EXPECT_EQ(Explain(IsOk(), absl::CancelledError("gone")),
            "whose code is CANCELLED");
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk()), "is OK");
}

TEST(IsOkAndHoldsTest, MatchesTheValue) {
  EXPECT_THAT(absl::StatusOr<int>(3), IsOkAndHolds(3));
  EXPECT_THAT(absl::StatusOr<int>(3), IsOkAndHolds(Gt(2)));
  EXPECT_THAT(absl::StatusOr<int>(3), Not(IsOkAndHolds(4)));
  EXPECT_THAT(absl::StatusOr<int>(absl::CancelledError()),
              Not(IsOkAndHolds(3)));
  EXPECT_THAT(absl::StatusOr<std::string>("abc"), IsOkAndHolds(HasSubstr("b")));
  EXPECT_THAT(absl::StatusOr<std::unique_ptr<int>>(std::make_unique<int>(5)),
              IsOkAndHolds(Pointee(Eq(5))));
}

TEST(IsOkAndHoldsTest, DescribesItselfAndTheMismatch) {
  const Matcher<const absl::StatusOr<int>&> matcher = IsOkAndHolds(4);
  EXPECT_EQ(DescribeMatcher<const absl::StatusOr<int>&>(matcher),
            "is OK and has a value that is equal to 4");
  EXPECT_EQ(Explain(matcher, absl::StatusOr<int>(3)),
            "whose value 3 doesn't match");
  EXPECT_EQ(Explain(matcher, absl::StatusOr<int>(absl::AbortedError("no"))),
            "whose code is ABORTED");
}

}  // namespace
}  // namespace eventbus::testing

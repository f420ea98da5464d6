// gMock matchers for absl::Status and absl::StatusOr<T> (Abseil 20220623 has
// no public ones):
//
//   EXPECT_THAT(bus.Publish(event), StatusIs(absl::StatusCode::kUnavailable));
//   EXPECT_THAT(Parse(text), StatusIs(absl::StatusCode::kInvalidArgument,
//                                     HasSubstr("line 2")));
//   EXPECT_THAT(Load(path), IsOk());
//   EXPECT_THAT(Parse("7"), IsOkAndHolds(7));
//
// StatusIs and IsOk take an absl::Status or any absl::StatusOr<T> (the
// StatusOr's status() is matched); IsOkAndHolds takes an absl::StatusOr<T>.
// A mismatch prints the actual status or value (a StatusOr as "OK: VALUE" or
// its status) and names the part that differs ("whose code is NOT_FOUND").
// Header-only.
#ifndef EVENTBUS_TESTS_TESTING_STATUS_MATCHERS_H_
#define EVENTBUS_TESTS_TESTING_STATUS_MATCHERS_H_

#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace eventbus::testing {
namespace status_matchers_internal {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

class StatusIsMatcher {
 public:
  StatusIsMatcher(::testing::Matcher<absl::StatusCode> code,
                  std::optional<::testing::Matcher<const std::string&>> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& value,
                       ::testing::MatchResultListener* listener) const {
    // The explanation names the part that does not match (the whole status
    // is printed as the actual value).
    const absl::Status& status = GetStatus(value);
    ::testing::StringMatchResultListener code_listener;
    if (!code_.MatchAndExplain(status.code(), &code_listener)) {
      *listener << "whose code is " << status.code();
      if (!code_listener.str().empty())
        *listener << ", " << code_listener.str();
      return false;
    }
    if (!message_.has_value()) return true;
    const std::string message(status.message());
    ::testing::StringMatchResultListener message_listener;
    if (!message_->MatchAndExplain(message, &message_listener)) {
      *listener << "whose message " << ::testing::PrintToString(message)
                << " doesn't match";
      if (!message_listener.str().empty()) {
        *listener << ", " << message_listener.str();
      }
      return false;
    }
    return true;
  }

  void DescribeTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeTo(os);
    if (message_.has_value()) {
      *os << ", and a message that ";
      message_->DescribeTo(os);
    }
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeNegationTo(os);
    if (message_.has_value()) {
      *os << ", or a message that ";
      message_->DescribeNegationTo(os);
    }
  }

 private:
  ::testing::Matcher<absl::StatusCode> code_;
  std::optional<::testing::Matcher<const std::string&>> message_;
};

class IsOkMatcher {
 public:
  template <typename StatusType>
  bool MatchAndExplain(const StatusType& value,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    if (!status.ok()) *listener << "whose code is " << status.code();
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "isn't OK"; }
};

template <typename InnerMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(InnerMatcher inner) : inner_(std::move(inner)) {}

  // StatusOrType: absl::StatusOr<T>, possibly const and a reference.
  template <typename StatusOrType>
  operator ::testing::Matcher<StatusOrType>() const {  // NOLINT: implicit
    return ::testing::Matcher<StatusOrType>(new Impl<StatusOrType>(inner_));
  }

 private:
  template <typename StatusOrType>
  class Impl : public ::testing::MatcherInterface<StatusOrType> {
   public:
    using Value = typename std::remove_cv_t<
        std::remove_reference_t<StatusOrType>>::value_type;

    explicit Impl(const InnerMatcher& inner)
        : inner_(::testing::SafeMatcherCast<const Value&>(inner)) {}

    bool MatchAndExplain(
        StatusOrType actual,
        ::testing::MatchResultListener* listener) const override {
      if (!actual.ok()) {
        *listener << "whose code is " << actual.status().code();
        return false;
      }
      ::testing::StringMatchResultListener inner_listener;
      const bool matches = inner_.MatchAndExplain(*actual, &inner_listener);
      *listener << "whose value " << ::testing::PrintToString(*actual)
                << (matches ? " matches" : " doesn't match");
      if (!inner_listener.str().empty()) {
        *listener << ", " << inner_listener.str();
      }
      return matches;
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "is OK and has a value that ";
      inner_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "isn't OK or has a value that ";
      inner_.DescribeNegationTo(os);
    }

   private:
    const ::testing::Matcher<const Value&> inner_;
  };

  const InnerMatcher inner_;
};

}  // namespace status_matchers_internal

// A status (or a StatusOr's status) whose code matches `code`: an
// absl::StatusCode (equality) or a matcher of one (e.g. AnyOf(...)).
inline ::testing::PolymorphicMatcher<status_matchers_internal::StatusIsMatcher>
StatusIs(::testing::Matcher<absl::StatusCode> code) {
  return ::testing::MakePolymorphicMatcher(
      status_matchers_internal::StatusIsMatcher(std::move(code), std::nullopt));
}

// ... whose message also matches `message`: a string (equality) or a string
// matcher (HasSubstr, StartsWith, MatchesRegex, ...).
inline ::testing::PolymorphicMatcher<status_matchers_internal::StatusIsMatcher>
StatusIs(::testing::Matcher<absl::StatusCode> code,
         ::testing::Matcher<const std::string&> message) {
  return ::testing::MakePolymorphicMatcher(
      status_matchers_internal::StatusIsMatcher(std::move(code),
                                                std::move(message)));
}

// An OK status, or a StatusOr that holds a value.
inline ::testing::PolymorphicMatcher<status_matchers_internal::IsOkMatcher>
IsOk() {
  return ::testing::MakePolymorphicMatcher(
      status_matchers_internal::IsOkMatcher());
}

// A StatusOr that holds a value matching `inner` (a value or a matcher).
template <typename InnerMatcher>
status_matchers_internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>>
IsOkAndHolds(InnerMatcher&& inner) {
  return status_matchers_internal::IsOkAndHoldsMatcher<
      std::decay_t<InnerMatcher>>(std::forward<InnerMatcher>(inner));
}

}  // namespace eventbus::testing

// gtest prints an absl::StatusOr of Abseil 20220623 as raw bytes; this prints
// "OK: VALUE" or the status instead. (Later Abseil releases print StatusOr
// themselves, hence the version check.)
#if defined(ABSL_LTS_RELEASE_VERSION) && ABSL_LTS_RELEASE_VERSION <= 20220623
namespace absl {
ABSL_NAMESPACE_BEGIN
template <typename T>
void PrintTo(const StatusOr<T>& status_or, std::ostream* os) {
  if (status_or.ok()) {
    *os << "OK: " << ::testing::PrintToString(*status_or);
  } else {
    *os << status_or.status();
  }
}
ABSL_NAMESPACE_END
}  // namespace absl
#endif

#endif  // EVENTBUS_TESTS_TESTING_STATUS_MATCHERS_H_

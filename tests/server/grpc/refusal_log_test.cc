// RefusalLog: what reaches the log, through a real spdlog logger writing to
// a string.
#include "server/grpc/refusal_log.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eventbus {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

absl::Time fake_now = absl::UnixEpoch();
absl::Time FakeNow() { return fake_now; }

class RefusalLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_now = absl::FromUnixSeconds(1000);
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_);
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  std::vector<std::string> Lines() {
    return absl::StrSplit(lines_.str(), '\n', absl::SkipEmpty());
  }

  std::ostringstream lines_;
  std::shared_ptr<spdlog::logger> previous_;
  RefusalLog log_{&FakeNow};
};

TEST_F(RefusalLogTest, ClientTextIsOneEscapedLine) {
  log_.Refused(
      RefusalLog::Level::kInfo, "subscribe", "ipv4:127.0.0.1:5000",
      absl::InvalidArgumentError("name 'x\n2026-01-01 error FAKE \x1b[31m'"));
  EXPECT_THAT(Lines(),
              ElementsAre("subscribe from ipv4:127.0.0.1:5000 refused: "
                          "INVALID_ARGUMENT: name 'x\\x0a2026-01-01 error "
                          "FAKE \\x1b[31m'"));
}

TEST_F(RefusalLogTest, EachPeerGetsAFewLinesPerWindowThenACount) {
  const absl::Status refused = absl::PermissionDeniedError("no");
  for (int i = 0; i < RefusalLog::kLinesPerWindow + 3; ++i) {
    log_.Refused(RefusalLog::Level::kInfo, "subscribe", "ipv4:10.0.0.1:1",
                 refused);
  }
  // Another host has lines of its own; another port of the same host not.
  log_.Refused(RefusalLog::Level::kInfo, "subscribe", "ipv4:10.0.0.2:1",
               refused);
  log_.Refused(RefusalLog::Level::kInfo, "subscribe", "ipv4:10.0.0.1:2",
               refused);
  EXPECT_THAT(Lines(), SizeIs(RefusalLog::kLinesPerWindow + 1));
  fake_now += RefusalLog::kWindow;
  log_.Refused(RefusalLog::Level::kInfo, "subscribe", "ipv4:10.0.0.1:3",
               refused);
  ASSERT_THAT(Lines(), SizeIs(RefusalLog::kLinesPerWindow + 2));
  EXPECT_THAT(Lines().back(),
              HasSubstr("(4 refusal lines from this peer suppressed in the "
                        "10s before)"));
}

TEST_F(RefusalLogTest, LevelsBelowTheLoggerCostNothing) {
  log_.Refused(RefusalLog::Level::kDebug, "publish", "ipv4:10.0.0.1:1",
               absl::InvalidArgumentError("x"));
  EXPECT_THAT(Lines(), SizeIs(0));
}

}  // namespace
}  // namespace eventbus

#include "base/file.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::StatusIs;
using ::eventbus::testing::TempDir;

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

TEST(FileTest, ReadFileToStringReadsEverything) {
  const TempDir dir("eventbus-file");
  const std::string contents("line 1\n\0binary\n", 15);
  const std::string path = dir.WriteFile("whole.bin", contents);
  EXPECT_EQ(ReadFileToString(path).value(), contents);
  EXPECT_EQ(ReadFileToString(dir.WriteFile("empty", "")).value(), "");
}

TEST(FileTest, ReadFileToStringGivesTheReasonOnly) {
  const absl::StatusOr<std::string> missing = ReadFileToString("/x/y.pem");
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound,
                                "No such file or directory"));
}

TEST(FileTest, ReadSettingFileNamesKeyAndFile) {
  const TempDir dir("eventbus-file");
  const std::string path = dir.WriteFile("setting.pem", "PEM");
  EXPECT_EQ(ReadSettingFile("server.tls.cert_file", path).value(), "PEM");
  EXPECT_EQ(ReadSettingFile("server.tls.cert_file", "/x/cert.pem").status(),
            Invalid("server.tls.cert_file: cannot read /x/cert.pem: No such "
                    "file or directory"));
  EXPECT_EQ(ReadSettingFile("auth.tokens_file", dir.path()).status(),
            Invalid("auth.tokens_file: cannot read " + dir.path() +
                    ": Is a directory"));
}

}  // namespace
}  // namespace eventbus

#include "base/file.h"

#include <sys/stat.h>

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
                    ": is a directory, not a regular file"));
}

// Neither waited on nor read without bound: a FIFO without a writer, a
// device that never ends, a file over the limit.
TEST(FileTest, OnlyRegularFilesWithinTheLimit) {
  const TempDir dir("eventbus-file");
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(ReadFileToString(fifo),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "is a FIFO, not a regular file"));
  EXPECT_THAT(ReadFileToString("/dev/zero"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "is a character device, not a regular file"));
  const std::string big = dir.WriteFile("big", std::string(101, 'x'));
  EXPECT_THAT(ReadFileToString(big, 100),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "is 101 bytes, over the limit of 100"));
  EXPECT_EQ(ReadFileToString(big, 101).value(), std::string(101, 'x'));
  EXPECT_EQ(ReadSettingFile("auth.tokens_file", fifo).status(),
            Invalid("auth.tokens_file: cannot read " + fifo +
                    ": is a FIFO, not a regular file"));
}

}  // namespace
}  // namespace eventbus

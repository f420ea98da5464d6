#include "server/forward/forward_cursor.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::IsOk;
using ::eventbus::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ForwardCursorTest, StartsAtZeroAndKeepsWhatWasStored) {
  testing::TempDir dir("eventbus-cursor");
  const std::string path = dir.Path("forward.cursor");
  {
    auto cursor = ForwardCursor::Open(path);
    ASSERT_THAT(cursor, IsOk());
    EXPECT_EQ((*cursor)->sequence(), 0u);
    ASSERT_THAT((*cursor)->Store(41), IsOk());
    ASSERT_THAT((*cursor)->Store(42), IsOk());
    ASSERT_THAT((*cursor)->Store(7), IsOk());  // never backwards
    EXPECT_EQ((*cursor)->sequence(), 42u);
  }
  auto reopened = ForwardCursor::Open(path);
  ASSERT_THAT(reopened, IsOk());
  EXPECT_EQ((*reopened)->sequence(), 42u);
}

TEST(ForwardCursorTest, ADamagedFileIsAnErrorNotAFreshStart) {
  testing::TempDir dir("eventbus-cursor");
  const std::string path = dir.WriteFile("forward.cursor", "0123456789abcdef");
  EXPECT_THAT(ForwardCursor::Open(path),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("is not a forward cursor")));
  const std::string short_path = dir.WriteFile("short.cursor", "EBF1");
  EXPECT_THAT(ForwardCursor::Open(short_path),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace eventbus

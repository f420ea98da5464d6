#include "base/random_uuid.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eventbus {
namespace {

TEST(RandomUuidTest, IsCanonicalVersion4Text) {
  for (int i = 0; i < 1000; ++i) {
    const std::string uuid = RandomUuid();
    EXPECT_THAT(uuid,
                ::testing::MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]"
                                        "{3}-[89ab][0-9a-f]{3}-[0-9a-f]"
                                        "{12}"));
  }
}

TEST(RandomUuidTest, UsesEveryHexDigitInEveryFreePosition) {
  // A formatting slip (a shift off by a nibble, a constant digit) would
  // leave some position with fewer than 16 values over many draws.
  std::set<char> seen[36];
  for (int i = 0; i < 2000; ++i) {
    const std::string uuid = RandomUuid();
    for (int at = 0; at < 36; ++at) seen[at].insert(uuid[at]);
  }
  for (int at = 0; at < 36; ++at) {
    if (at == 8 || at == 13 || at == 18 || at == 23) {
      EXPECT_EQ(seen[at].size(), 1u) << at;
    } else if (at == 14) {
      EXPECT_EQ(seen[at].size(), 1u) << "version nibble";
    } else if (at == 19) {
      EXPECT_EQ(seen[at].size(), 4u) << "variant nibble";
    } else {
      EXPECT_EQ(seen[at].size(), 16u) << "position " << at;
    }
  }
}

TEST(RandomUuidTest, DoesNotRepeat) {
  std::set<std::string> uuids;
  for (int i = 0; i < 10000; ++i) uuids.insert(RandomUuid());
  EXPECT_EQ(uuids.size(), 10000u);
}

}  // namespace
}  // namespace eventbus

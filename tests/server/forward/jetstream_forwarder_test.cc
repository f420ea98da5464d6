// The forwarder's pure parts; forwarding itself is tests/e2e/forward_test.cc.
#include "server/forward/jetstream_forwarder.h"

#include "gtest/gtest.h"

namespace eventbus {
namespace {

TEST(StreamSubjectsTest, TheTemplatesFixedTokensThenAWildcard) {
  EXPECT_EQ(StreamSubjects("eventbus.{source}.{type}"), "eventbus.>");
  EXPECT_EQ(StreamSubjects("audit.opsml.{type}"), "audit.opsml.>");
  EXPECT_EQ(StreamSubjects("eventbus.x{source}.{type}"), "eventbus.>");
  EXPECT_EQ(StreamSubjects("audit.all"), "audit.all");
}

}  // namespace
}  // namespace eventbus

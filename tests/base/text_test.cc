// UTF-8 validation against protobuf's own parser, and log escaping.
#include "base/text.h"

#include <string>
#include <vector>

#include "eventbus/v1/eventbus.pb.h"
#include "gtest/gtest.h"

namespace eventbus {
namespace {

// Whether protobuf parses `text` as a proto3 string field.
bool ProtobufAcceptsString(const std::string& text) {
  v1::SpaceNameEvent message;
  std::string wire;
  wire.push_back(0x0A);  // field 1 (space), length-delimited
  wire.push_back(static_cast<char>(text.size()));
  wire += text;
  return message.ParseFromString(wire);
}

TEST(IsValidUtf8Test, AgreesWithProtobuf) {
  const std::vector<std::string> cases = {
      "",
      "plain ascii",
      "caf\xc3\xa9",
      "\xe2\x82\xac",
      "\xf0\x9f\x98\x80",
      "\xc3",              // truncated
      "\x80",              // lone continuation
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong, three bytes
      "\xf0\x80\x80\xaf",  // overlong, four bytes
      "\xed\xa0\x80",      // surrogate U+D800
      "\xf4\x90\x80\x80",  // U+110000
      "\xf4\x8f\xbf\xbf",  // U+10FFFF
      "\xff",
      std::string("nul\0inside", 10),
      // Both sides of every boundary.
      "\xc2\x80",
      "\xc1\xbf",
      "\xe0\xa0\x80",
      "\xe0\x9f\xbf",
      "\xed\x9f\xbf",
      "\xee\x80\x80",
      "\xf0\x90\x80\x80",
      "\xf5\x80\x80\x80",
      "\xe2\x82",
  };
  // Each case at every offset within and across the 8-byte ASCII words,
  // alone and followed by more ASCII.
  for (const std::string& base : cases) {
    for (size_t ascii = 0; ascii <= 17; ++ascii) {
      for (const std::string& text :
           {std::string(ascii, 'a') + base,
            std::string(ascii, 'a') + base + std::string(9, 'z')}) {
        EXPECT_EQ(IsValidUtf8(text), ProtobufAcceptsString(text))
            << "bytes: " << EscapeForLog(text);
      }
    }
  }
}

TEST(EscapeForLogTest, ControlCharactersBecomeHex) {
  EXPECT_EQ(EscapeForLog("a\nb\x1b[31mc\x7f"), "a\\x0ab\\x1b[31mc\\x7f");
  EXPECT_EQ(EscapeForLog("back\\slash"), "back\\x5cslash");
  EXPECT_EQ(EscapeForLog("\xc2\x9f\xc2\xa0"), "\\xc2\\x9f\xc2\xa0");
  EXPECT_EQ(EscapeForLog("csi\xc2\x9b"
                         "1m"),
            "csi\\xc2\\x9b1m");
}

TEST(EscapeForLogTest, KeepsUtf8AndEscapesWhatIsNot) {
  EXPECT_EQ(EscapeForLog("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(EscapeForLog("bad\xff"
                         "byte"),
            "bad\\xffbyte");
}

TEST(EscapeForLogTest, CutsLongText) {
  EXPECT_EQ(EscapeForLog(std::string(10, 'x'), 4), "xxxx...(10 bytes)");
  EXPECT_EQ(EscapeForLog("xxxx", 4), "xxxx");
}

}  // namespace
TEST(WithoutCredentialsTest, HidesWhatPrecedesTheHost) {
  EXPECT_EQ(WithoutCredentials("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222");
  EXPECT_EQ(WithoutCredentials("nats://eb:s3cr3t@nats-1:4222"),
            "nats://***@nats-1:4222");
  EXPECT_EQ(WithoutCredentials("tls://tok@n1:4222,nats://n2:4222,u:p@n3"),
            "tls://***@n1:4222,nats://n2:4222,***@n3");
  EXPECT_EQ(WithoutCredentials("nats://a:b@c@host"), "nats://***@host");
  EXPECT_EQ(WithoutCredentials(""), "");
}

}  // namespace eventbus

// The hand-written varints against protobuf's own encoder.
#include "base/varint.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace eventbus {
namespace {

std::string ProtobufVarint(uint64_t value) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.WriteVarint64(value);
  }
  return bytes;
}

TEST(VarintTest, MatchesProtobufAtEveryLengthBoundary) {
  for (int bits = 0; bits <= 64; ++bits) {
    for (const uint64_t value :
         {bits == 64 ? std::numeric_limits<uint64_t>::max()
                     : (uint64_t{1} << bits) - 1,
          bits == 64 ? uint64_t{0} : uint64_t{1} << bits}) {
      const std::string expected = ProtobufVarint(value);
      uint8_t buffer[16] = {};
      const uint8_t* end = WriteVarint(value, buffer);
      EXPECT_EQ(VarintSize(value), expected.size()) << value;
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer),
                            static_cast<size_t>(end - buffer)),
                expected)
          << value;
    }
  }
}

}  // namespace
}  // namespace eventbus

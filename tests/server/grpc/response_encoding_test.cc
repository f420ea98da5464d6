#include "server/grpc/response_encoding.h"

#include "gtest/gtest.h"
#include "server/bus/bus.h"
#include "tests/server/bus/bus_test_util.h"

namespace eventbus {
namespace {

TEST(ResponseEncodingTest, ParsesBackToTheSameResponse) {
  BusOptions options;
  options.capacity = 2;
  Bus bus = *Bus::Create(options);
  auto sub = *bus.Subscribe({});
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(bus.Publish(testing::AuditEvent(std::to_string(i))).ok());
  }
  ReadBatch batch;
  sub->TryRead({}, &batch);
  std::string bytes(SubscribeResponseSize(batch), '\0');
  uint8_t* begin = reinterpret_cast<uint8_t*>(bytes.data());
  EXPECT_EQ(WriteSubscribeResponse(batch, begin), begin + bytes.size());

  v1::SubscribeResponse response;
  ASSERT_TRUE(response.ParseFromString(bytes));
  EXPECT_EQ(response.lagged().missed(), 2u);
  EXPECT_EQ(response.lagged().first_sequence(), 1u);
  EXPECT_EQ(response.lagged().last_sequence(), 2u);
  ASSERT_EQ(response.events_size(), 2);
  EXPECT_EQ(response.events(0).sequence(), 3u);
  EXPECT_EQ(response.events(0).audit().resource_id(), "2");
  EXPECT_EQ(response.events(1).SerializeAsString(),
            batch.events[1]->event().SerializeAsString());
}

TEST(ResponseEncodingTest, NoLagNoEventsIsEmpty) {
  EXPECT_EQ(SubscribeResponseSize(ReadBatch{}), 0u);
}

}  // namespace
}  // namespace eventbus

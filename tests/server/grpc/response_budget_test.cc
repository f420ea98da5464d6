#include "server/grpc/response_budget.h"

#include "gtest/gtest.h"

namespace eventbus {
namespace {

TEST(ResponseBudgetTest, FewWritesInFlightGetTheLargestResponses) {
  ResponseBudget budget(/*total_bytes=*/1 << 20, /*min_bytes=*/4096,
                        /*max_bytes=*/30 * 1024);
  EXPECT_EQ(budget.NextLimit(), 30u * 1024);
  for (int i = 0; i < 10; ++i) budget.WriteStarted();
  EXPECT_EQ(budget.NextLimit(), 30u * 1024);  // 1 MiB / 11 > 30 KiB
}

TEST(ResponseBudgetTest, ManyWritesInFlightShareTheTotal) {
  ResponseBudget budget(1 << 20, 4096, 30 * 1024);
  for (int i = 0; i < 99; ++i) budget.WriteStarted();
  EXPECT_EQ(budget.NextLimit(), (1u << 20) / 100);
  for (int i = 0; i < 99; ++i) budget.WriteDone();
  EXPECT_EQ(budget.in_flight(), 0);
  EXPECT_EQ(budget.NextLimit(), 30u * 1024);
}

TEST(ResponseBudgetTest, NeverBelowTheMinimum) {
  ResponseBudget budget(1 << 20, 4096, 30 * 1024);
  for (int i = 0; i < 10000; ++i) budget.WriteStarted();
  EXPECT_EQ(budget.NextLimit(), 4096u);
}

TEST(ResponseBudgetTest, MaximumBelowMinimumIsTheMinimum) {
  ResponseBudget budget(1 << 20, 4096, 1024);
  EXPECT_EQ(budget.NextLimit(), 4096u);
}

}  // namespace
}  // namespace eventbus

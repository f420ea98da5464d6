#include "server/grpc/response_budget.h"

#include <algorithm>

namespace eventbus {

ResponseBudget::ResponseBudget(size_t total_bytes, size_t min_bytes,
                               size_t max_bytes)
    : total_bytes_(total_bytes),
      min_bytes_(min_bytes),
      max_bytes_(std::max(min_bytes, max_bytes)) {}

size_t ResponseBudget::NextLimit() const {
  const int64_t others = std::max<int64_t>(in_flight(), 0);
  const size_t share = total_bytes_ / static_cast<size_t>(others + 1);
  return std::clamp(share, min_bytes_, max_bytes_);
}

}  // namespace eventbus

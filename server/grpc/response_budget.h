// ResponseBudget: how many bytes of events one Subscribe response may carry.
//
// A stream that is behind holds its response, a copy of the events' bytes,
// until gRPC is done writing it, which a slow reader or a full HTTP/2 window
// delays. With a fixed limit per response, that memory grows with the number
// of streams behind: 10,000 subscribers catching up after a burst held about
// 10,000 times the limit at once. The budget shares `total_bytes` between
// the streams that have a write in flight: each new response may carry
// total_bytes / (writes in flight + 1), but never less than `min_bytes`
// (small responses cost a write each) nor more than `max_bytes`. A few
// streams behind get large responses; ten thousand get small ones, and
// together they stay near `total_bytes` (or min_bytes each beyond that).
// Stalled streams count as in flight, so they only shrink others' responses,
// never stop them. Thread-safe (one atomic counter).
#ifndef EVENTBUS_SERVER_GRPC_RESPONSE_BUDGET_H_
#define EVENTBUS_SERVER_GRPC_RESPONSE_BUDGET_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace eventbus {

class ResponseBudget {
 public:
  ResponseBudget(size_t total_bytes, size_t min_bytes, size_t max_bytes);
  ResponseBudget(const ResponseBudget&) = delete;
  ResponseBudget& operator=(const ResponseBudget&) = delete;

  // The byte limit for a response about to be built.
  size_t NextLimit() const;

  // A response was handed to gRPC; call WriteDone() once gRPC is done.
  void WriteStarted() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void WriteDone() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  int64_t in_flight() const {
    return in_flight_.load(std::memory_order_relaxed);
  }

 private:
  const size_t total_bytes_;
  const size_t min_bytes_;
  const size_t max_bytes_;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_RESPONSE_BUDGET_H_

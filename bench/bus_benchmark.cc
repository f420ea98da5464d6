// Micro-benchmarks of the bus core (eventbus_bus, plus grpc/response_encoding
// for the response bytes), no gRPC server:
//
//   BM_CopyEvent             building the benchmark event (the baseline that
//                            every publish below pays first)
//   BM_Publish/S             Bus::Publish with S idle subscribers (they never
//                            read: publish cost against subscriber count)
//   BM_PublishAndDrain/S     one publish, then each of S subscribers reads it
//                            (TryRead) and re-arms its wake-up (Arm): the
//                            per-event cost when every subscriber keeps up
//   BM_TryRead/B             read cost per event, in batches of up to B
//   BM_ResponseAssembly/B    SubscribeResponseSize + WriteSubscribeResponse
//                            for a batch of B events (the gRPC layer's work
//                            per response, without gRPC)
//   BM_MatchExpression       one evaluation of a 3-clause filter expression
//                            (kThreeClauses, true for the event, so every
//                            clause runs) on the parsed benchmark event
//   BM_PublishAndDrainFiltered/S  BM_PublishAndDrain with each subscriber
//                            filtered by kThreeClauses: the filter's cost per
//                            event and subscription on the real read path
//                            (the event is parsed once, by the first reader)
//   BM_ObserveLatency/B      the delivery latency metric for a response of
//                            B events (a Histogram::Tally), per event: what
//                            it adds per event per subscriber written
//                            (compare BM_PublishAndDrain per event and
//                            subscriber)
//
//   bus_benchmark [--benchmark_filter=REGEX] [other Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "bench/bench_event.h"
#include "server/bus/bus.h"
#include "server/bus/event_matcher.h"
#include "server/filter/expression.h"
#include "server/grpc/response_encoding.h"

namespace eventbus::bench {
namespace {

// Three clauses an audit monitor might write, all true for BenchEvent().
constexpr char kThreeClauses[] =
    R"(audit.operation in ["OPERATION_UPDATE", "OPERATION_DELETE"] && )"
    R"(audit.registry_type == "REGISTRY_TYPE_MODEL" && )"
    R"(audit.username.startsWith("alice"))";

Bus NewBus(uint64_t capacity) {
  BusOptions options;
  options.capacity = capacity;
  return Bus::Create(options).value();
}

std::unique_ptr<Subscription> Subscribe(
    const Bus& bus,
    SubscribeOptions::Start start = SubscribeOptions::Start::kNext,
    uint64_t from_sequence = 0) {
  SubscribeOptions options;
  options.start = start;
  options.from_sequence = from_sequence;
  return bus.Subscribe(std::move(options)).value();
}

void PublishMany(const Bus& bus, uint64_t count) {
  const v1::Event prototype = BenchEvent();
  for (uint64_t i = 0; i < count; ++i) {
    v1::Event event = prototype;
    StampEvent(MonotonicNanos(), &event);
    bus.Publish(std::move(event)).value();
  }
}

// A waker that only counts.
class CountingWaker final : public SubscriptionWaker {
 public:
  void OnReadable() override { ++wakes_; }
  uint64_t wakes() const { return wakes_; }

 private:
  uint64_t wakes_ = 0;
};

void BM_CopyEvent(benchmark::State& state) {
  const v1::Event prototype = BenchEvent();
  for (auto _ : state) {
    v1::Event event = prototype;
    StampEvent(MonotonicNanos(), &event);
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CopyEvent);

void BM_Publish(benchmark::State& state) {
  const Bus bus = NewBus(1024);
  std::vector<std::unique_ptr<Subscription>> idle;
  for (int64_t i = 0; i < state.range(0); ++i) idle.push_back(Subscribe(bus));
  const v1::Event prototype = BenchEvent();
  for (auto _ : state) {
    v1::Event event = prototype;
    StampEvent(MonotonicNanos(), &event);
    benchmark::DoNotOptimize(bus.Publish(std::move(event)));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["subscribers"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_Publish)->Arg(0)->Arg(1)->Arg(16)->Arg(64);

void BM_PublishAndDrain(benchmark::State& state) {
  const Bus bus = NewBus(1024);
  std::vector<std::unique_ptr<Subscription>> subscriptions;
  for (int64_t i = 0; i < state.range(0); ++i) {
    subscriptions.push_back(Subscribe(bus));
  }
  auto waker = std::make_shared<CountingWaker>();
  for (auto& subscription : subscriptions) subscription->Arm(waker);
  const v1::Event prototype = BenchEvent();
  ReadBatch batch;
  const ReadLimits limits;
  uint64_t read = 0;
  for (auto _ : state) {
    v1::Event event = prototype;
    StampEvent(MonotonicNanos(), &event);
    bus.Publish(std::move(event)).value();
    for (auto& subscription : subscriptions) {
      subscription->TryRead(limits, &batch);
      read += batch.events.size();
      subscription->Arm(waker);
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["reads_per_event"] = benchmark::Counter(
      static_cast<double>(read), benchmark::Counter::kAvgIterations);
  state.counters["wakes_per_event"] = benchmark::Counter(
      static_cast<double>(waker->wakes()), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_PublishAndDrain)->Arg(1)->Arg(16)->Arg(64);

void BM_MatchExpression(benchmark::State& state) {
  const FilterExpression expression =
      FilterExpression::Compile(kThreeClauses).value();
  const v1::Event event = BenchEvent();
  for (auto _ : state) {
    benchmark::DoNotOptimize(expression.Matches(event));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchExpression);

void BM_PublishAndDrainFiltered(benchmark::State& state) {
  const Bus bus = NewBus(1024);
  v1::EventFilter filter;
  filter.set_expression(kThreeClauses);
  std::vector<std::unique_ptr<Subscription>> subscriptions;
  for (int64_t i = 0; i < state.range(0); ++i) {
    SubscribeOptions options;
    options.matcher = EventMatcher::Create(filter).value();
    subscriptions.push_back(bus.Subscribe(std::move(options)).value());
  }
  auto waker = std::make_shared<CountingWaker>();
  for (auto& subscription : subscriptions) subscription->Arm(waker);
  const v1::Event prototype = BenchEvent();
  ReadBatch batch;
  const ReadLimits limits;
  uint64_t read = 0;
  for (auto _ : state) {
    v1::Event event = prototype;
    StampEvent(MonotonicNanos(), &event);
    bus.Publish(std::move(event)).value();
    for (auto& subscription : subscriptions) {
      subscription->TryRead(limits, &batch);
      read += batch.events.size();
      subscription->Arm(waker);
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["reads_per_event"] = benchmark::Counter(
      static_cast<double>(read), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_PublishAndDrainFiltered)->Arg(1)->Arg(16)->Arg(64);

void BM_TryRead(benchmark::State& state) {
  constexpr uint64_t kRetained = 4096;
  const Bus bus = NewBus(kRetained);
  PublishMany(bus, kRetained);
  ReadLimits limits;
  limits.max_events = static_cast<size_t>(state.range(0));
  limits.max_bytes = SIZE_MAX;
  std::unique_ptr<Subscription> subscription =
      Subscribe(bus, SubscribeOptions::Start::kEarliest);
  ReadBatch batch;
  uint64_t read = 0;
  for (auto _ : state) {
    subscription->TryRead(limits, &batch);
    if (batch.events.empty()) {
      state.PauseTiming();
      subscription = Subscribe(bus, SubscribeOptions::Start::kEarliest);
      state.ResumeTiming();
      continue;
    }
    read += batch.events.size();
    benchmark::DoNotOptimize(batch.events.back().get());
  }
  state.SetItemsProcessed(static_cast<int64_t>(read));
}
BENCHMARK(BM_TryRead)->Arg(1)->Arg(16)->Arg(256)->Arg(1024);

void BM_ResponseAssembly(benchmark::State& state) {
  const int64_t count = state.range(0);
  const Bus bus = NewBus(static_cast<uint64_t>(count));
  PublishMany(bus, static_cast<uint64_t>(count));
  std::unique_ptr<Subscription> subscription =
      Subscribe(bus, SubscribeOptions::Start::kEarliest);
  ReadLimits limits;
  limits.max_events = static_cast<size_t>(count);
  limits.max_bytes = SIZE_MAX;
  ReadBatch batch;
  subscription->TryRead(limits, &batch);
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    const size_t size = SubscribeResponseSize(batch);
    // A fresh buffer per response, as the service allocates a fresh slice.
    out = std::string();
    out.resize(size);
    WriteSubscribeResponse(batch, reinterpret_cast<uint8_t*>(out.data()));
    benchmark::DoNotOptimize(out.data());
    bytes += size;
  }
  state.SetItemsProcessed(state.iterations() * count);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ResponseAssembly)->Arg(1)->Arg(16)->Arg(256)->Arg(1024);

void BM_ObserveLatency(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  Histogram latency(Histogram::LatencyBounds());
  // Spread over the buckets as real latencies would be: 50us .. 50ms.
  std::vector<int64_t> durations;
  for (int64_t micros = 50; micros <= 50'000; micros = micros * 3 / 2 + 1) {
    durations.push_back(micros * 1000);
  }
  size_t i = 0;
  for (auto _ : state) {
    Histogram::Tally tally(&latency);
    for (size_t n = 0; n < batch; ++n) {
      tally.ObserveNanos(durations[i]);
      i = i + 1 == durations.size() ? 0 : i + 1;
    }
  }
  benchmark::DoNotOptimize(latency.Snapshot().count);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ObserveLatency)->Arg(1)->Arg(16)->Arg(128);

}  // namespace
}  // namespace eventbus::bench

BENCHMARK_MAIN();

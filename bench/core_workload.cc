#include "bench/core_workload.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "base/mutex.h"
#include "bench/bench_event.h"
#include "bench/json_line.h"
#include "bench/proc_stats.h"
#include "server/bus/bus.h"

namespace eventbus::bench {
namespace {

// What a receiver reads per TryRead: the core's defaults.
constexpr ReadLimits kReadLimits;

class Worker;

// One receiver: a subscription and what it counted. Runs on one worker at a
// time (it is in that worker's queue at most once: it is queued either by
// its own worker after a batch, or by the bus's single wake-up after Arm).
class Receiver final : public SubscriptionWaker,
                       public std::enable_shared_from_this<Receiver> {
 public:
  Receiver(std::unique_ptr<Subscription> subscription, Worker* worker)
      : subscription_(std::move(subscription)), worker_(worker) {}

  void OnReadable() override;

  // Reads one batch. Returns true when the receiver should run again soon,
  // false when it armed a wake-up or saw the end of the stream.
  bool RunOnce();

  uint64_t runs() const { return runs_; }
  bool finished() const { return finished_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t lagged() const { return lagged_; }
  uint64_t lag_notices() const { return lag_notices_; }
  int64_t end_ns() const { return end_ns_; }
  uint64_t checksum() const { return checksum_; }

 private:
  std::unique_ptr<Subscription> subscription_;
  Worker* const worker_;
  ReadBatch batch_;
  uint64_t runs_ = 0;
  bool finished_ = false;
  uint64_t delivered_ = 0;
  uint64_t lagged_ = 0;
  uint64_t lag_notices_ = 0;
  uint64_t checksum_ = 0;
  int64_t end_ns_ = 0;
};

// One thread and its queue of receivers ready to run. The thread takes the
// whole queue at once, runs each receiver once, and keeps those with more to
// read for the next round; a publish wakes the thread only when it sleeps.
class Worker {
 public:
  void Add(std::shared_ptr<Receiver> receiver) {
    receivers_.push_back(std::move(receiver));
  }

  // Queues `receiver` (woken by the bus, from the publishing thread).
  void Schedule(Receiver* receiver) ABSL_LOCKS_EXCLUDED(mu_) {
    bool wake;
    {
      MutexLock lock(&mu_);
      ready_.push_back(receiver);
      wake = sleeping_;
      pending_.store(true, std::memory_order_release);
    }
    if (wake) ready_or_sleeping_.SignalAll();
  }

  // Runs until every receiver of this worker saw the end of the stream.
  // `started` counts receivers that ran once (and so are armed or reading).
  void Run(std::atomic<int>* started) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<Receiver*> round, next;
    for (const auto& receiver : receivers_) round.push_back(receiver.get());
    size_t finished = 0;
    while (finished < receivers_.size()) {
      if (round.empty()) SpinForWork();
      {
        MutexLock lock(&mu_);
        pending_.store(false, std::memory_order_relaxed);
        if (round.empty()) {
          sleeping_ = true;
          while (ready_.empty()) {
            ready_or_sleeping_.WaitUntil(absl::InfiniteFuture());
          }
          sleeping_ = false;
        }
        round.insert(round.end(), ready_.begin(), ready_.end());
        ready_.clear();
      }
      next.clear();
      for (Receiver* receiver : round) {
        const bool first_run = receiver->runs() == 0;
        if (receiver->RunOnce()) {
          next.push_back(receiver);
        } else if (receiver->finished()) {
          ++finished;
        }
        if (first_run) started->fetch_add(1, std::memory_order_release);
      }
      round.swap(next);
    }
  }

 private:
  // Before it sleeps, a worker with nothing to run polls a little (about
  // 20-50 us): a wake-up through the condition variable costs the publisher
  // a futex call and both threads a context switch, several times what a
  // publish costs, so a runtime's worker looks for work before it parks (as
  // tokio's workers do). Counted in pauses, not read from a clock: the
  // clock (absl::Now) takes a lock the publisher needs too.
  static constexpr int kSpinPauses = 1000;
  void SpinForWork() {
    for (int i = 0;
         i < kSpinPauses && !pending_.load(std::memory_order_acquire); ++i) {
      CpuRelax();
    }
  }

  std::vector<std::shared_ptr<Receiver>> receivers_;
  // Set with each Schedule(); lets SpinForWork() poll without the lock.
  std::atomic<bool> pending_{false};
  Mutex mu_;
  CondVar ready_or_sleeping_{&mu_};
  std::vector<Receiver*> ready_ ABSL_GUARDED_BY(mu_);
  bool sleeping_ ABSL_GUARDED_BY(mu_) = false;
};

void Receiver::OnReadable() { worker_->Schedule(this); }

bool Receiver::RunOnce() {
  ++runs_;
  while (true) {
    subscription_->TryRead(kReadLimits, &batch_);
    if (batch_.end_of_stream) {
      finished_ = true;
      end_ns_ = MonotonicNanos();
      return false;
    }
    if (batch_.empty()) {
      if (subscription_->Arm(weak_from_this())) return false;
      continue;  // something arrived in between: read again
    }
    if (batch_.lag) {
      lagged_ += batch_.lag->missed();
      ++lag_notices_;
    }
    // Touch each event, as the anchor's receivers do.
    for (const auto& event : batch_.events) {
      checksum_ += event->sequence() ^ event->encoded().size();
    }
    delivered_ += batch_.events.size();
    return true;
  }
}

struct CoreRun {
  std::vector<std::shared_ptr<Receiver>> receivers;
  int64_t start_ns = 0;
  int64_t send_end_ns = 0;
  int64_t end_ns = 0;
  uint64_t publish_errors = 0;
};

CoreRun RunOnce(const CoreWorkloadOptions& options, uint64_t events) {
  BusOptions bus_options;
  bus_options.capacity = options.capacity;
  bus_options.max_subscribers = options.subscribers + 1;
  absl::StatusOr<Bus> bus = Bus::Create(bus_options);
  CoreRun run;
  if (!bus.ok()) {
    std::fprintf(stderr, "W0: %s\n", bus.status().ToString().c_str());
    run.publish_errors = events;
    return run;
  }
  std::vector<Worker> workers(options.workers);
  for (int i = 0; i < options.subscribers; ++i) {
    Worker& worker = workers[i % options.workers];
    auto receiver = std::make_shared<Receiver>(
        std::move(bus->Subscribe(SubscribeOptions{}).value()), &worker);
    worker.Add(receiver);
    run.receivers.push_back(std::move(receiver));
  }
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (Worker& worker : workers) {
    threads.emplace_back([&worker, &started] { worker.Run(&started); });
  }
  std::thread sender([&] {
    // Start once every receiver ran once and waits for events.
    while (started.load(std::memory_order_acquire) < options.subscribers) {
      std::this_thread::yield();
    }
    const v1::Event prototype = BenchEvent();
    run.start_ns = MonotonicNanos();
    for (uint64_t i = 0; i < events; ++i) {
      v1::Event event = prototype;
      StampEvent(MonotonicNanos(), &event);
      if (!bus->Publish(std::move(event)).ok()) ++run.publish_errors;
    }
    run.send_end_ns = MonotonicNanos();
    bus->Close();  // receivers see the end once they read everything
  });
  sender.join();
  for (std::thread& thread : threads) thread.join();
  run.end_ns = run.send_end_ns;
  for (const auto& receiver : run.receivers) {
    run.end_ns = std::max(run.end_ns, receiver->end_ns());
  }
  return run;
}

}  // namespace

std::string RunCoreWorkload(const CoreWorkloadOptions& options) {
  if (options.warmup_events > 0) RunOnce(options, options.warmup_events);
  const double cpu_before = SelfCpuSeconds();
  const CoreRun run = RunOnce(options, options.events);
  const double cpu_s = SelfCpuSeconds() - cpu_before;

  uint64_t delivered = 0, lagged = 0, lag_notices = 0;
  uint64_t min_delivered = UINT64_MAX, max_delivered = 0;
  for (const auto& receiver : run.receivers) {
    delivered += receiver->delivered();
    lagged += receiver->lagged();
    lag_notices += receiver->lag_notices();
    min_delivered = std::min(min_delivered, receiver->delivered());
    max_delivered = std::max(max_delivered, receiver->delivered());
  }
  const uint64_t expected = options.events * options.subscribers;
  const bool consistent =
      run.publish_errors == 0 && delivered + lagged == expected;
  const double seconds = (run.end_ns - run.start_ns) / 1e9;
  const double send_seconds = (run.send_end_ns - run.start_ns) / 1e9;

  JsonLine json;
  json.Str("system", "eventbus")
      .Str("workload", "W0")
      .Str("variant", "shared")
      .Int("subscribers", options.subscribers)
      .Int("events", static_cast<int64_t>(options.events))
      .Int("capacity", static_cast<int64_t>(options.capacity))
      .Int("workers", options.workers)
      .Num("delivered_eps", delivered / seconds, 0)
      .Int("lagged", static_cast<int64_t>(lagged))
      .Int("drops", static_cast<int64_t>(lagged))
      .Num("seconds", seconds, 4)
      .Int("delivered", static_cast<int64_t>(delivered))
      .Int("lag_errors", static_cast<int64_t>(lag_notices))
      .Int("min_delivered_per_sub", static_cast<int64_t>(min_delivered))
      .Int("max_delivered_per_sub", static_cast<int64_t>(max_delivered))
      .Num("publish_eps", options.events / send_seconds, 0)
      .Num("send_seconds", send_seconds, 4)
      .Num("cpu_s", cpu_s, 2)
      .Bool("consistent", consistent)
      .Int("event_bytes",
           static_cast<int64_t>(BenchEventWireSize(options.events)))
      .Str("note",
           absl::StrFormat(
               "in-process eventbus::Bus. 1 sender thread building a fresh "
               "audit event per publish (copy of a template + stamp; the bus "
               "validates, assigns a UUID, encodes once); %d receivers, each "
               "its own Subscription, multiplexed over %d worker threads "
               "(TryRead of up to %d events per turn, round robin, Arm when "
               "empty); every event shared (refcounted), never copied; "
               "capacity %d; %d warm-up events on a separate bus first%s.",
               options.subscribers, options.workers, kReadLimits.max_events,
               options.capacity, options.warmup_events,
               run.publish_errors > 0 ? "; PUBLISH ERRORS" : ""));
  if (!consistent) {
    std::fprintf(stderr,
                 "W0 S=%d: delivered %llu + lagged %llu != %llu expected\n",
                 options.subscribers, (unsigned long long)delivered,
                 (unsigned long long)lagged, (unsigned long long)expected);
  }
  return json.Done();
}

}  // namespace eventbus::bench

// The delivery queue directly: every posted task runs, in order on one
// thread, tasks that are gone are skipped, and destruction joins.
#include "server/grpc/delivery_queue.h"

#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eventbus {
namespace {

using ::testing::ElementsAre;

// Appends its id to a shared log when run.
class LoggingTask final : public DeliveryQueue::Task {
 public:
  // base/mutex.h, not absl::Mutex: Debian's Abseil is not built with
  // ThreadSanitizer, which would then not see this lock.
  struct Log {
    Mutex mu;
    CondVar changed{&mu};
    std::vector<int> runs ABSL_GUARDED_BY(mu);

    // Waits, up to 30 s, until `count` runs are logged.
    std::vector<int> AwaitRuns(size_t count) {
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
      MutexLock lock(&mu);
      while (runs.size() < count && changed.WaitUntil(deadline)) {
      }
      return runs;
    }
  };

  LoggingTask(int id, Log* log) : id_(id), log_(log) {}
  void Run() override {
    MutexLock lock(&log_->mu);
    log_->runs.push_back(id_);
    log_->changed.SignalAll();
  }

 private:
  const int id_;
  Log* const log_;
};

TEST(DeliveryQueueTest, RunsEveryPostInOrderOnOneThread) {
  LoggingTask::Log log;
  auto first = std::make_shared<LoggingTask>(1, &log);
  auto second = std::make_shared<LoggingTask>(2, &log);
  DeliveryQueue queue(1);
  queue.Post(first);
  queue.Post(second);
  queue.Post(first);
  EXPECT_THAT(log.AwaitRuns(3), ElementsAre(1, 2, 1));
}

TEST(DeliveryQueueTest, SkipsATaskThatIsGone) {
  LoggingTask::Log log;
  auto kept = std::make_shared<LoggingTask>(1, &log);
  DeliveryQueue queue(1);
  {
    auto gone = std::make_shared<LoggingTask>(2, &log);
    std::weak_ptr<DeliveryQueue::Task> weak = gone;
    gone.reset();
    queue.Post(weak);
  }
  queue.Post(kept);
  EXPECT_THAT(log.AwaitRuns(1), ElementsAre(1));
}

TEST(DeliveryQueueTest, SeveralThreadsRunEveryPost) {
  LoggingTask::Log log;
  std::vector<std::shared_ptr<LoggingTask>> tasks;
  for (int i = 0; i < 100; ++i) {
    tasks.push_back(std::make_shared<LoggingTask>(i, &log));
  }
  DeliveryQueue queue(3);
  for (const auto& task : tasks) queue.Post(task);
  EXPECT_EQ(log.AwaitRuns(100).size(), 100u);
}

// Fails by hanging (ctest's timeout) or, under ThreadSanitizer, by a task
// running after its queue is gone.
TEST(DeliveryQueueTest, DestructionDropsWhatIsQueuedAndJoins) {
  LoggingTask::Log log;
  auto task = std::make_shared<LoggingTask>(1, &log);
  auto queue = std::make_unique<DeliveryQueue>(2);
  for (int i = 0; i < 1000; ++i) queue->Post(task);
  queue.reset();
  // The threads are joined: the queue held the task only weakly, and no
  // thread can take it any more.
  EXPECT_EQ(task.use_count(), 1);
}

}  // namespace
}  // namespace eventbus

// CheckedSubscriber: a subscriber on a thread of its own that accounts
// everything it reads in a SequenceLedger, and can misbehave on purpose:
// stall (stop reading for a while, so that it lags) and cancel its stream to
// resume with from_sequence = the next sequence it expects.
//
// It reads until the bus's last sequence (FinishAt) is accounted for, until
// Stop(), or until the daemon ends its stream (counted; with
// `resume_after_end` it then resumes, otherwise it stops).
//
// Thread-safe: every public method may be called from any thread.
#ifndef EVENTBUS_TESTS_FAULT_CHECKED_SUBSCRIBER_H_
#define EVENTBUS_TESTS_FAULT_CHECKED_SUBSCRIBER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.grpc.pb.h"
#include "tests/fault/sequence_ledger.h"

namespace eventbus::fault {

struct SubscriberBehaviour {
  // Per response read: the chance to stop reading for up to `max_stall`.
  double stall_chance = 0;
  absl::Duration max_stall = absl::ZeroDuration();
  // Per response read: the chance to cancel and resume.
  double resume_chance = 0;
  // Start of the first stream: the next event (0) or from_sequence.
  uint64_t from_sequence = 0;
  // A stream that ends without being asked to: resume (true) or stop.
  bool resume_after_end = false;
  // The stream's overflow policy.
  v1::Overflow overflow = v1::OVERFLOW_UNSPECIFIED;
};

struct SubscriberOutcome {
  std::string name;
  // Empty when the first stream never opened.
  std::optional<SequenceLedger> ledger;
  uint64_t responses = 0;
  uint64_t stalls = 0;
  uint64_t resumes = 0;
  // Streams the daemon ended (this subscriber did not cancel them), and the
  // status of the last one.
  uint64_t daemon_ends = 0;
  grpc::Status last_end;
  // The first stream could not open, or a resumed one started elsewhere
  // than asked.
  std::string open_error;
};

class CheckedSubscriber {
 public:
  // Opens the first stream and returns once it is registered (headers in),
  // or once it failed (see outcome().open_error).
  CheckedSubscriber(std::shared_ptr<grpc::Channel> channel, std::string name,
                    SubscriberBehaviour behaviour, uint64_t seed);
  ~CheckedSubscriber();

  // Whether the first stream opened.
  bool registered() const ABSL_LOCKS_EXCLUDED(mu_);
  // Reads until every sequence up to `last` is accounted for, then stops.
  void FinishAt(uint64_t last) ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels now.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until the thread is done (finished, stopped, or ended);
  // returns false when `deadline` came first.
  bool AwaitDone(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a stream is open now and the daemon ended none so far.
  bool connected() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t next_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  // Joins the thread (call after AwaitDone or Stop) and returns the outcome.
  SubscriberOutcome Join() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Holds one stream until it ends; returns whether to open another.
  bool Stream(bool first) ABSL_LOCKS_EXCLUDED(mu_);
  bool reached_target() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  const SubscriberBehaviour behaviour_;
  const std::unique_ptr<v1::EventBusService::Stub> stub_;
  std::mt19937_64 random_;  // the subscriber's thread only
  mutable Mutex mu_;
  CondVar changed_{&mu_};
  SubscriberOutcome outcome_ ABSL_GUARDED_BY(mu_);
  bool opened_ ABSL_GUARDED_BY(mu_) = false;  // first stream: attempt over
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<uint64_t> target_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace eventbus::fault

#endif  // EVENTBUS_TESTS_FAULT_CHECKED_SUBSCRIBER_H_

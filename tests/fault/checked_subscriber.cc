#include "tests/fault/checked_subscriber.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/metadata.h"

namespace eventbus::fault {
namespace {

std::optional<uint64_t> StartSequence(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find(kStartSequenceMetadataKey);
  uint64_t start = 0;
  if (it == metadata.end() ||
      !absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()),
                        &start)) {
    return std::nullopt;
  }
  return start;
}

}  // namespace

CheckedSubscriber::CheckedSubscriber(std::shared_ptr<grpc::Channel> channel,
                                     std::string name,
                                     SubscriberBehaviour behaviour,
                                     uint64_t seed)
    : name_(std::move(name)),
      behaviour_(behaviour),
      stub_(v1::EventBusService::NewStub(std::move(channel))),
      random_(seed) {
  {
    MutexLock lock(&mu_);
    outcome_.name = name_;
  }
  thread_ = std::thread([this] { Run(); });
  MutexLock lock(&mu_);
  while (!opened_) changed_.WaitUntil(absl::InfiniteFuture());
}

CheckedSubscriber::~CheckedSubscriber() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

bool CheckedSubscriber::registered() const {
  MutexLock lock(&mu_);
  return outcome_.ledger.has_value();
}

bool CheckedSubscriber::reached_target() const {
  return target_ && outcome_.ledger && outcome_.ledger->next() > *target_;
}

void CheckedSubscriber::FinishAt(uint64_t last) {
  MutexLock lock(&mu_);
  target_ = last;
  // Nothing more may come: a subscriber already there is waiting in Read.
  if (reached_target() && context_ != nullptr) context_->TryCancel();
  changed_.SignalAll();
}

void CheckedSubscriber::Stop() {
  MutexLock lock(&mu_);
  stopping_ = true;
  if (context_ != nullptr) context_->TryCancel();
  changed_.SignalAll();
}

bool CheckedSubscriber::AwaitDone(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (!done_) {
    if (!changed_.WaitUntil(deadline)) return done_;
  }
  return true;
}

bool CheckedSubscriber::connected() const {
  MutexLock lock(&mu_);
  return streaming_ && outcome_.daemon_ends == 0;
}

uint64_t CheckedSubscriber::next_sequence() const {
  MutexLock lock(&mu_);
  return outcome_.ledger ? outcome_.ledger->next() : 0;
}

SubscriberOutcome CheckedSubscriber::Join() {
  if (thread_.joinable()) thread_.join();
  MutexLock lock(&mu_);
  return outcome_;
}

void CheckedSubscriber::Run() {
  bool first = true;
  while (Stream(first)) first = false;
  MutexLock lock(&mu_);
  opened_ = true;
  done_ = true;
  changed_.SignalAll();
}

bool CheckedSubscriber::Stream(bool first) {
  grpc::ClientContext context;
  v1::SubscribeRequest request;
  request.set_name(name_);
  request.set_overflow(behaviour_.overflow);
  uint64_t from = behaviour_.from_sequence;
  {
    MutexLock lock(&mu_);
    if (stopping_ || reached_target()) return false;
    if (!first) from = outcome_.ledger->next();
    context_ = &context;
  }
  if (from != 0) request.set_from_sequence(from);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      stub_->Subscribe(&context, request);
  // Headers come once the daemon registered the subscription; a refused
  // stream ends without them.
  reader->WaitForInitialMetadata();
  const std::optional<uint64_t> start = StartSequence(context);
  bool cancelled_by_us = false;
  {
    MutexLock lock(&mu_);
    if (first) {
      opened_ = true;
      if (start) outcome_.ledger.emplace(*start);
      changed_.SignalAll();
    }
    if (!start) {
      if (!stopping_) {
        outcome_.open_error =
            absl::StrCat(first ? "first" : "resumed", " stream did not open");
      }
    } else if (from != 0 && *start != from) {
      outcome_.open_error = absl::StrCat("asked from_sequence ", from,
                                         ", the stream starts at ", *start);
    } else {
      streaming_ = true;
    }
  }
  v1::SubscribeResponse response;
  std::uniform_real_distribution<double> chance(0, 1);
  while (start && reader->Read(&response)) {
    bool resume = false;
    absl::Duration stall = absl::ZeroDuration();
    {
      MutexLock lock(&mu_);
      outcome_.ledger->Apply(response);
      ++outcome_.responses;
      if (stopping_ || reached_target()) {
        cancelled_by_us = true;
        break;
      }
      if (chance(random_) < behaviour_.stall_chance) {
        ++outcome_.stalls;
        stall = absl::Microseconds(
            chance(random_) * absl::ToDoubleMicroseconds(behaviour_.max_stall));
      } else if (chance(random_) < behaviour_.resume_chance) {
        ++outcome_.resumes;
        resume = true;
      }
    }
    if (resume) {
      cancelled_by_us = true;
      break;
    }
    if (stall > absl::ZeroDuration()) {
      // The stall is the behaviour under test; Stop() cuts it short.
      MutexLock lock(&mu_);
      const absl::Time until = absl::Now() + stall;
      while (!stopping_ && changed_.WaitUntil(until)) {
      }
    }
  }
  if (cancelled_by_us) {
    // Cancelling a stream that ended by itself would replace its status.
    context.TryCancel();
    while (reader->Read(&response)) {
    }
  }
  grpc::Status status = reader->Finish();
  MutexLock lock(&mu_);
  context_ = nullptr;
  streaming_ = false;
  if (!start) {
    if (!outcome_.open_error.empty()) {
      absl::StrAppend(&outcome_.open_error, " (status ", status.error_code(),
                      ": ", status.error_message(), ")");
    }
    return false;
  }
  if (!cancelled_by_us && !stopping_ && !reached_target()) {
    // The daemon ended it: drained (OK), or an error.
    ++outcome_.daemon_ends;
    outcome_.last_end = status;
    return behaviour_.resume_after_end;
  }
  if (!cancelled_by_us) outcome_.last_end = status;
  return !stopping_ && !reached_target();
}

}  // namespace eventbus::fault

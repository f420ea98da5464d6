// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with
// Clang thread-safety annotations, as leveldb's port::Mutex.
//
// Why not absl::Mutex: Debian's Abseil is built without ThreadSanitizer
// annotations, so TSan cannot see its synchronization and reports races on
// everything it guards. std::mutex goes through pthread, which TSan
// intercepts; the annotations keep -Wthread-safety checking every
// ABSL_GUARDED_BY.
#ifndef EVENTBUS_BASE_MUTEX_H_
#define EVENTBUS_BASE_MUTEX_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace eventbus {

// Tells the processor this thread is spinning (x86 `pause`): for wait
// loops that poll a lock or a flag.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Spins briefly before sleeping: the locks here are held for well under a
  // microsecond, so a thread that finds one taken usually gets it sooner
  // than a futex sleep and wake-up would take (the publisher and a reader
  // of the ring, above all).
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    for (int i = 0; i < kSpins; ++i) {
      if (mu_.try_lock()) return;
      CpuRelax();
    }
    mu_.lock();
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  friend class CondVar;
  static constexpr int kSpins = 100;
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable bound to one Mutex.
class CondVar {
 public:
  explicit CondVar(Mutex* mu) : mu_(mu) {}

  // Waits, with *mu held, for a SignalAll() or `deadline`; returns false
  // when the deadline has passed. May wake spuriously: callers loop on
  // their condition.
  bool WaitUntil(absl::Time deadline) {
    std::unique_lock<std::mutex> lock(mu_->mu_, std::adopt_lock);
    bool in_time = true;
    if (deadline == absl::InfiniteFuture()) {
      cv_.wait(lock);
    } else {
      in_time = cv_.wait_until(lock, absl::ToChronoTime(deadline)) ==
                std::cv_status::no_timeout;
    }
    lock.release();  // *mu stays held, as the caller expects
    return in_time;
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  Mutex* const mu_;
  std::condition_variable cv_;
};

}  // namespace eventbus

#endif  // EVENTBUS_BASE_MUTEX_H_

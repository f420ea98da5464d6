#include "server/daemon/shutdown_signals.h"

#include <pthread.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace eventbus {

absl::StatusOr<ShutdownSignals*> ShutdownSignals::Install() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  if (const int error = pthread_sigmask(SIG_BLOCK, &signals, nullptr);
      error != 0) {
    return absl::InternalError(
        absl::StrCat("pthread_sigmask: ", std::strerror(error)));
  }
  auto* installed = new ShutdownSignals(signals);
  pthread_t thread;
  if (const int error = pthread_create(&thread, nullptr,
                                       &ShutdownSignals::RunThread, installed);
      error != 0) {
    delete installed;
    return absl::InternalError(
        absl::StrCat("cannot start the signal thread: ", std::strerror(error)));
  }
  pthread_detach(thread);
  return installed;
}

void* ShutdownSignals::RunThread(void* self) {
  static_cast<ShutdownSignals*>(self)->Run();
  return nullptr;
}

void ShutdownSignals::Serving() {
  MutexLock lock(&mu_);
  serving_ = true;
}

int ShutdownSignals::Await() {
  MutexLock lock(&mu_);
  while (received_ == 0 && !reload_) {
    received_changed_.WaitUntil(absl::InfiniteFuture());
  }
  if (received_ != 0) return received_;
  reload_ = false;
  return SIGHUP;
}

void ShutdownSignals::Run() {
  int signal = 0;
  while (true) {
    sigwait(&signals_, &signal);
    MutexLock lock(&mu_);
    if (signal == SIGHUP) {
      // Starting: nothing to reload yet, and no reason to die.
      if (serving_ && received_ == 0) {
        reload_ = true;
        received_changed_.SignalAll();
      }
      continue;
    }
    if (serving_) {
      received_ = signal;
      received_changed_.SignalAll();
      continue;  // later signals are taken and dropped: the drain has its
                 // own timeout
    }
    break;
  }
  // Still starting: die of the signal, as without a handler. Unblocked
  // here, the signal raised again is taken by this thread.
  std::signal(signal, SIG_DFL);
  pthread_sigmask(SIG_UNBLOCK, &signals_, nullptr);
  raise(signal);
  _exit(128 + signal);  // not reached
}

}  // namespace eventbus

#include "server/daemon/shutdown_signals.h"

#include <pthread.h>
#include <unistd.h>

#include <thread>

#include "absl/time/time.h"

namespace eventbus {

ShutdownSignals::ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([this, signals] { Run(signals); }).detach();
}

void ShutdownSignals::Serving() {
  MutexLock lock(&mu_);
  serving_ = true;
}

int ShutdownSignals::Await() {
  MutexLock lock(&mu_);
  while (received_ == 0) received_changed_.WaitUntil(absl::InfiniteFuture());
  return received_;
}

void ShutdownSignals::Run(sigset_t signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  {
    MutexLock lock(&mu_);
    if (serving_) {
      received_ = signal;
      received_changed_.SignalAll();
      return;  // later signals stay blocked: the drain has its own timeout
    }
  }
  // Still starting: die of the signal, as without a handler. Unblocked
  // here, the signal raised again is taken by this thread.
  std::signal(signal, SIG_DFL);
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  raise(signal);
  _exit(128 + signal);  // not reached
}

}  // namespace eventbus

// ShutdownSignals: SIGTERM and SIGINT, and SIGHUP (reload), from the first
// line of main.
//
// Created before anything else (before any file is read, before gRPC starts
// a thread): it blocks both signals, so that every later thread inherits the
// mask, and waits for them on a thread of its own. Until Serving() is
// called a signal ends the process at once, as its default action would:
// a start-up that hangs (a config file on a dead network mount, say) still
// stops on SIGTERM. After Serving(), Await() returns the signal so that main
// can drain. SIGHUP never ends the process (its default action would, so
// a `kill -HUP` meant as a reload, or a closed terminal, used to end the
// bus): before Serving() it is ignored, after it Await() returns it, once
// however many arrived meanwhile, until SIGTERM or SIGINT came.
//
// One per process. Thread-safe.
#ifndef EVENTBUS_SERVER_DAEMON_SHUTDOWN_SIGNALS_H_
#define EVENTBUS_SERVER_DAEMON_SHUTDOWN_SIGNALS_H_

#include <csignal>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"

namespace eventbus {

class ShutdownSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread and starts the waiting
  // thread (detached: it may sit in sigwait when the process exits). The
  // object is never deleted. Error: Internal naming the failed call.
  static absl::StatusOr<ShutdownSignals*> Install();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // From now on a signal is handed to Await() instead of ending the
  // process.
  void Serving() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits for the next signal after Serving() and returns its number:
  // SIGHUP (a reload asked for) or, from then on, SIGTERM or SIGINT.
  int Await() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit ShutdownSignals(sigset_t signals) : signals_(signals) {}
  static void* RunThread(void* self);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const sigset_t signals_;
  Mutex mu_;
  CondVar received_changed_{&mu_};
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  int received_ ABSL_GUARDED_BY(mu_) = 0;
  bool reload_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_DAEMON_SHUTDOWN_SIGNALS_H_

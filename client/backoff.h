// Backoff: exponential delays with jitter between reconnect attempts.
//
// Not thread-safe: one reconnect loop owns one Backoff.
#ifndef EVENTBUS_CLIENT_BACKOFF_H_
#define EVENTBUS_CLIENT_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace eventbus::client {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(10);
  double multiplier = 2.0;
  // Each delay is scaled by a random factor in [1 - jitter, 1 + jitter],
  // then capped at `max`.
  double jitter = 0.2;
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options,
                   uint64_t seed = std::random_device{}())
      : options_(options), gen_(seed) {}

  // The delay before the next attempt; grows with each call.
  absl::Duration Next();
  // Back to `initial`, after an attempt that succeeded.
  void Reset() { attempts_ = 0; }

 private:
  const BackoffOptions options_;
  std::mt19937_64 gen_;
  int attempts_ = 0;
};

}  // namespace eventbus::client

#endif  // EVENTBUS_CLIENT_BACKOFF_H_

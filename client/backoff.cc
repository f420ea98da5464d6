#include "client/backoff.h"

#include <algorithm>
#include <cmath>

namespace eventbus::client {

absl::Duration Backoff::Next() {
  const double base = absl::ToDoubleSeconds(options_.initial) *
                      std::pow(options_.multiplier, attempts_);
  const double cap = absl::ToDoubleSeconds(options_.max);
  if (base < cap) ++attempts_;  // stop growing (and overflowing) at the cap
  std::uniform_real_distribution<double> factor(1 - options_.jitter,
                                                1 + options_.jitter);
  return absl::Seconds(std::min(cap, base * factor(gen_)));
}

}  // namespace eventbus::client

#include "server/random_uuid.h"

#include <cstdint>
#include <random>

#include "absl/strings/str_format.h"

namespace eventbus {

std::string RandomUuid() {
  // Not absl::BitGen: its seeding runs in Debian's uninstrumented Abseil and
  // shows as a race under ThreadSanitizer.
  thread_local std::mt19937_64 gen([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  const uint64_t hi = (gen() & ~uint64_t{0xF000}) | uint64_t{0x4000};
  const uint64_t lo = (gen() & ~(uint64_t{3} << 62)) | (uint64_t{2} << 62);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32,
                         (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48,
                         lo & 0xFFFFFFFFFFFF);
}

}  // namespace eventbus

// RefusalLog: the log lines of refused requests, escaped and rate-limited
// per peer.
//
// Each refused Publish, PublishStream or Subscribe used to write one line,
// unthrottled: a burst of 1,000 refused subscribes wrote 1,000 lines, and a
// client-supplied string in the status could forge a line. Here each line
// is escaped (base/text.h EscapeForLog) and a peer gets at most
// kLinesPerWindow lines per kWindow; the first line after a window in which
// lines were suppressed says how many. Peers are counted by host
// (PeerLimits::PeerOf); at most kMaxPeers are tracked, the rest share one
// budget; when the table is full, expired windows are swept (at most once a
// window) and one line sums what they had suppressed.
//
// Thread-safe: a mutex guards the per-peer counts; it is never held while
// logging.
#ifndef EVENTBUS_SERVER_GRPC_REFUSAL_LOG_H_
#define EVENTBUS_SERVER_GRPC_REFUSAL_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/mutex.h"

namespace eventbus {

class RefusalLog {
 public:
  static constexpr int kLinesPerWindow = 5;
  static constexpr absl::Duration kWindow = absl::Seconds(10);
  static constexpr size_t kMaxPeers = 4096;

  // The level of a refusal line.
  enum class Level { kDebug, kInfo };

  // `now` is the clock; tests substitute it.
  explicit RefusalLog(absl::Time (*now)() = &absl::Now) : now_(now) {}

  // Logs "`what` from `peer` refused: `status`" at `level` unless the peer
  // has used its lines of this window. `peer` is gRPC's peer string.
  void Refused(Level level, std::string_view what, std::string_view peer,
               const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Window {
    absl::Time start;
    int lines = 0;
    uint64_t suppressed = 0;
  };

  // The budget shared by peers beyond kMaxPeers.
  static constexpr char kOtherPeers[] = "(other peers)";

  absl::Time (*const now_)();
  Mutex mu_;
  absl::flat_hash_map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_REFUSAL_LOG_H_

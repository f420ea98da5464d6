#include "server/grpc/refusal_log.h"

#include <spdlog/spdlog.h>

#include "base/text.h"
#include "server/security/peer_limits.h"

namespace eventbus {

void RefusalLog::Refused(Level refusal_level, std::string_view what,
                         std::string_view peer, const absl::Status& status) {
  const spdlog::level::level_enum level = refusal_level == Level::kInfo
                                              ? spdlog::level::info
                                              : spdlog::level::debug;
  if (!spdlog::should_log(level)) return;
  const absl::Time now = now_();
  uint64_t suppressed = 0;
  uint64_t swept_lines = 0;
  uint64_t swept_peers = 0;
  std::string host = PeerLimits::PeerOf(peer);
  {
    MutexLock lock(&mu_);
    if (!windows_.contains(host) && windows_.size() >= kMaxPeers &&
        now - last_sweep_ >= kWindow) {
      // At most once a window: expired windows go, with their counts
      // reported together below.
      last_sweep_ = now;
      absl::erase_if(windows_, [&](const auto& entry) {
        if (now - entry.second.start < kWindow) return false;
        if (entry.second.suppressed > 0) ++swept_peers;
        swept_lines += entry.second.suppressed;
        return true;
      });
    }
    if (!windows_.contains(host) && windows_.size() >= kMaxPeers) {
      host = kOtherPeers;
    }
    Window& window = windows_[host];
    if (now - window.start >= kWindow) {
      suppressed = window.suppressed;
      window = Window{.start = now};
    }
    if (window.lines >= kLinesPerWindow) {
      ++window.suppressed;
      return;
    }
    ++window.lines;
  }
  if (swept_lines > 0) {
    spdlog::log(level, "{} refusal lines from {} peers were suppressed",
                swept_lines, swept_peers);
  }
  const std::string escaped_peer = EscapeForLog(peer);
  const std::string escaped_status = EscapeForLog(status.ToString(), 1024);
  if (suppressed > 0) {
    spdlog::log(level,
                "{} from {} refused: {} ({} refusal lines from {} "
                "suppressed in the {} before)",
                what, escaped_peer, escaped_status, suppressed,
                host == kOtherPeers ? "peers past the first 4096" : "this peer",
                absl::FormatDuration(kWindow));
  } else {
    spdlog::log(level, "{} from {} refused: {}", what, escaped_peer,
                escaped_status);
  }
}

}  // namespace eventbus

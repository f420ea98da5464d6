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
  {
    MutexLock lock(&mu_);
    std::string host = PeerLimits::PeerOf(peer);
    if (!windows_.contains(host) && windows_.size() >= kMaxPeers) {
      absl::erase_if(windows_, [&](const auto& entry) {
        return now - entry.second.start >= kWindow &&
               entry.second.suppressed == 0;
      });
      if (windows_.size() >= kMaxPeers) host = "(other peers)";
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
  const std::string escaped_peer = EscapeForLog(peer);
  const std::string escaped_status = EscapeForLog(status.ToString(), 1024);
  if (suppressed > 0) {
    spdlog::log(level,
                "{} from {} refused: {} ({} refusal lines from this peer "
                "suppressed in the {} before)",
                what, escaped_peer, escaped_status, suppressed,
                absl::FormatDuration(kWindow));
  } else {
    spdlog::log(level, "{} from {} refused: {}", what, escaped_peer,
                escaped_status);
  }
}

}  // namespace eventbus

#include "server/security/peer_limits.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace eventbus {

PeerLimits::Lease& PeerLimits::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    limits_ = std::move(other.limits_);
    peer_ = std::move(other.peer_);
  }
  return *this;
}

void PeerLimits::Lease::Release() {
  if (limits_ == nullptr) return;
  limits_->ReleaseSubscriber(peer_);
  limits_.reset();
}

std::shared_ptr<PeerLimits> PeerLimits::Create(Options options) {
  return std::shared_ptr<PeerLimits>(new PeerLimits(std::move(options)));
}

std::string PeerLimits::PeerOf(std::string_view grpc_peer) {
  const absl::string_view peer(grpc_peer.data(), grpc_peer.size());
  if (absl::StartsWith(peer, "ipv4:") || absl::StartsWith(peer, "ipv6:")) {
    const size_t colon = peer.rfind(':');
    // "ipv6:[::1]:5" and "ipv6:%5B::1%5D:5" both end with ":PORT".
    if (colon > 5) return std::string(peer.substr(0, colon));
  }
  return std::string(peer);
}

absl::StatusOr<PeerLimits::Lease> PeerLimits::AcquireSubscriber(
    std::string_view peer) {
  {
    MutexLock lock(&mu_);
    Peer& entry = EntryOf(peer, options_.clock());
    if (entry.subscribers >= options_.max_subscribers_per_peer) {
      return absl::ResourceExhaustedError(
          absl::StrCat("peer ", absl::string_view(peer.data(), peer.size()),
                       " holds ", entry.subscribers,
                       " subscriptions: limits.max_subscribers_per_peer is ",
                       options_.max_subscribers_per_peer));
    }
    ++entry.subscribers;
  }
  return Lease(shared_from_this(), std::string(peer));
}

void PeerLimits::ReleaseSubscriber(const std::string& peer) {
  MutexLock lock(&mu_);
  const auto it = peers_.find(peer);
  if (it == peers_.end() || it->second.subscribers == 0) return;
  --it->second.subscribers;
}

absl::Status PeerLimits::AdmitPublish(std::string_view peer) {
  if (options_.publish_rate == 0) return absl::OkStatus();
  const absl::Time now = options_.clock();
  MutexLock lock(&mu_);
  Peer& entry = EntryOf(peer, now);
  Refill(entry, now);
  if (entry.tokens < 1) {
    return absl::ResourceExhaustedError(
        absl::StrCat("peer ", absl::string_view(peer.data(), peer.size()),
                     " publishes faster than limits.publish_rate_per_peer (",
                     options_.publish_rate, " events/s, burst ",
                     options_.publish_burst, "); retry later"));
  }
  entry.tokens -= 1;
  return absl::OkStatus();
}

uint32_t PeerLimits::subscribers(std::string_view peer) const {
  MutexLock lock(&mu_);
  const auto it = peers_.find(absl::string_view(peer.data(), peer.size()));
  return it == peers_.end() ? 0 : it->second.subscribers;
}

size_t PeerLimits::tracked_peers() const {
  MutexLock lock(&mu_);
  return peers_.size();
}

PeerLimits::Peer& PeerLimits::EntryOf(std::string_view peer, absl::Time now) {
  const absl::string_view key(peer.data(), peer.size());
  auto it = peers_.find(key);
  if (it != peers_.end()) return it->second;
  if (peers_.size() >= prune_at_) PruneIdle(now);
  Peer& entry = peers_[key];
  entry.tokens = options_.publish_burst;
  entry.refilled = now;
  return entry;
}

void PeerLimits::Refill(Peer& entry, absl::Time now) const {
  if (now <= entry.refilled) return;
  entry.tokens = std::min<double>(
      options_.publish_burst,
      entry.tokens +
          absl::ToDoubleSeconds(now - entry.refilled) * options_.publish_rate);
  entry.refilled = now;
}

void PeerLimits::PruneIdle(absl::Time now) {
  absl::erase_if(peers_, [&](auto& item) {
    Peer& entry = item.second;
    if (entry.subscribers > 0) return false;
    if (options_.publish_rate == 0) return true;
    Refill(entry, now);
    return entry.tokens >= options_.publish_burst;
  });
  // Amortized: the next sweep waits until the map has doubled.
  prune_at_ = std::max(kMinPruneSize, 2 * peers_.size());
}

}  // namespace eventbus

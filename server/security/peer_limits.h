// PeerLimits: the quotas of one peer: how many subscriptions it may hold at
// once, and how fast it may publish (a token bucket: `publish_rate` events
// per second on average, up to `publish_burst` at once).
//
// A peer is a client address without its port ("ipv4:10.0.0.7",
// "ipv6:%5B::1%5D"); every unix-socket client is one peer. PeerOf turns
// gRPC's peer string into it.
//
// Thread-safe: one mutex guards the per-peer entries; nothing is called
// under it. An entry is dropped once its peer is idle (no subscription, a
// full bucket), so memory follows the active peers, not every peer seen.
// Created shared: a Lease keeps its PeerLimits alive.
#ifndef EVENTBUS_SERVER_SECURITY_PEER_LIMITS_H_
#define EVENTBUS_SERVER_SECURITY_PEER_LIMITS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/mutex.h"

namespace eventbus {

class PeerLimits : public std::enable_shared_from_this<PeerLimits> {
 public:
  struct Options {
    // The largest values the config accepts.
    static constexpr uint32_t kMaxSubscribersPerPeer = 1000000;
    static constexpr uint32_t kMaxPublishRate = 1000000000;

    // limits.max_subscribers_per_peer, >= 1.
    uint32_t max_subscribers_per_peer = 1000;
    // limits.publish_rate_per_peer in events/s; 0: unlimited.
    uint32_t publish_rate = 100000;
    // limits.publish_burst_per_peer, >= 1.
    uint32_t publish_burst = 100000;
    // Source of time for the buckets; tests substitute it.
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };

  // One subscription slot of a peer, given back when the lease is destroyed
  // (or moved over). A default-constructed lease holds nothing.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease() { Release(); }

   private:
    friend class PeerLimits;
    Lease(std::shared_ptr<PeerLimits> limits, std::string peer)
        : limits_(std::move(limits)), peer_(std::move(peer)) {}
    void Release();

    std::shared_ptr<PeerLimits> limits_;
    std::string peer_;
  };

  static std::shared_ptr<PeerLimits> Create(Options options);

  // The peer of a gRPC peer string: "ipv4:10.0.0.7:41234" -> "ipv4:10.0.0.7";
  // anything other than ipv4:/ipv6: is returned as is.
  static std::string PeerOf(std::string_view grpc_peer);

  // Takes a subscription slot of `peer`. Error: ResourceExhausted naming
  // limits.max_subscribers_per_peer when the peer holds them all.
  absl::StatusOr<Lease> AcquireSubscriber(std::string_view peer)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Takes one event from `peer`'s bucket. Error: ResourceExhausted naming
  // limits.publish_rate_per_peer when it is empty. Always OK when the rate
  // is 0 (unlimited).
  absl::Status AdmitPublish(std::string_view peer) ABSL_LOCKS_EXCLUDED(mu_);

  // Subscriptions `peer` holds, and peers with an entry (for tests).
  uint32_t subscribers(std::string_view peer) const ABSL_LOCKS_EXCLUDED(mu_);
  size_t tracked_peers() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Entries kept before idle ones are looked for.
  static constexpr size_t kMinPruneSize = 1024;

  struct Peer {
    uint32_t subscribers = 0;
    // The bucket, refilled lazily: `tokens` as of `refilled`.
    double tokens = 0;
    absl::Time refilled;
  };

  explicit PeerLimits(Options options) : options_(std::move(options)) {}

  void ReleaseSubscriber(const std::string& peer) ABSL_LOCKS_EXCLUDED(mu_);
  // The entry of `peer`, created with a full bucket when missing.
  Peer& EntryOf(std::string_view peer, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Brings `entry`'s bucket up to `now`.
  void Refill(Peer& entry, absl::Time now) const;
  // Drops the entries of idle peers once there are many.
  void PruneIdle(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, Peer> peers_ ABSL_GUARDED_BY(mu_);
  // PruneIdle runs when peers_ grows past this.
  size_t prune_at_ ABSL_GUARDED_BY(mu_) = kMinPruneSize;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_SECURITY_PEER_LIMITS_H_

// Admission: what a call must pass before the bus sees it, in this order:
// the caller's right (Authorizer: UNAUTHENTICATED, PERMISSION_DENIED), the
// peer's quota (PeerLimits: RESOURCE_EXHAUSTED), then the request's size
// limits (RequestLimits: INVALID_ARGUMENT). EventBusService runs it at the
// start of every Publish and Subscribe; a publishing stream authorizes once
// (AuthorizePublisher) and admits each event (AdmitEvent). AdminService
// calls only need the admin right (AuthorizeAdmin).
//
// A default Admission admits everything. Copies share their authorizer
// (which a reload may replace) and peer limits. Thread-safe: its parts are, and
// it changes nothing itself.
#ifndef EVENTBUS_SERVER_SECURITY_ADMISSION_H_
#define EVENTBUS_SERVER_SECURITY_ADMISSION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "eventbus/v1/eventbus.pb.h"
#include "server/security/authorizer.h"
#include "server/security/peer_limits.h"
#include "server/security/request_limits.h"

namespace eventbus {

class Admission {
 public:
  // Admits everything: no authorization, no per-peer quota, and request
  // limits too large to matter.
  Admission();
  // `authorizer` and `peer_limits` may be null: not checked.
  Admission(std::shared_ptr<const Authorizer> authorizer,
            std::shared_ptr<PeerLimits> peer_limits,
            RequestLimits request_limits)
      : authorizer_(std::make_shared<AuthorizerSlot>(std::move(authorizer))),
        peer_limits_(std::move(peer_limits)),
        request_limits_(request_limits) {}

  // A reload: calls that start from now on (on every copy) are authorized
  // by `authorizer`; calls already admitted keep going.
  void ReplaceAuthorizer(std::shared_ptr<const Authorizer> authorizer) const;
  // The authorizer in force (null: none).
  std::shared_ptr<const Authorizer> authorizer() const;

  // The publish right of the call (after CheckMetadata).
  absl::Status AuthorizePublisher(const grpc::ServerContextBase& context) const;
  // CheckMetadata, then the admin right (AdminService).
  absl::Status AuthorizeAdmin(const grpc::ServerContextBase& context) const;

  // ResourceExhausted naming limits.max_metadata_bytes when the call's
  // request metadata is larger. gRPC checks its own limit only once the
  // client has acknowledged the settings that announce it; this check ends
  // a call that got past it, so its metadata is not held for the stream's
  // life.
  absl::Status CheckMetadata(const grpc::ServerContextBase& context) const;

  // One event from `peer` (PeerLimits::PeerOf(context.peer())): the peer's
  // publish rate, then the event's attribute limits.
  absl::Status AdmitEvent(std::string_view peer, const v1::Event& event) const;
  // The same for a unary Publish: the peer is taken from `context` only when
  // peer limits are on.
  absl::Status AdmitEvent(const grpc::ServerContextBase& context,
                          const v1::Event& event) const;

  // A Subscribe: CheckMetadata, the subscribe right, then a subscription
  // slot of the peer,
  // held by the returned lease until the stream ends.
  absl::StatusOr<PeerLimits::Lease> AdmitSubscriber(
      const grpc::ServerContextBase& context) const;

  // The filter of a parsed SubscribeRequest: its size and attributes.
  absl::Status CheckFilter(const v1::EventFilter& filter) const;

 private:
  // The authorizer in force, swapped whole by a reload.
  class AuthorizerSlot {
   public:
    explicit AuthorizerSlot(std::shared_ptr<const Authorizer> authorizer)
        : current_(std::move(authorizer)) {}
    std::shared_ptr<const Authorizer> Get() const ABSL_LOCKS_EXCLUDED(mu_) {
      MutexLock lock(&mu_);
      return current_;
    }
    void Set(std::shared_ptr<const Authorizer> authorizer)
        ABSL_LOCKS_EXCLUDED(mu_) {
      MutexLock lock(&mu_);
      current_.swap(authorizer);
    }

   private:
    mutable Mutex mu_;
    std::shared_ptr<const Authorizer> current_ ABSL_GUARDED_BY(mu_);
  };

  std::shared_ptr<AuthorizerSlot> authorizer_;
  std::shared_ptr<PeerLimits> peer_limits_;
  RequestLimits request_limits_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_SECURITY_ADMISSION_H_

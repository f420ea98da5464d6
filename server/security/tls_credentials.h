// ServerTls: the gRPC server credentials of server.tls, whose certificate,
// key and client CA a reload can rotate.
//
// Off (no cert_file): insecure credentials. With cert_file and key_file:
// TLS. With client_ca_file too: mTLS, where every client must present a
// certificate that one of those CAs signed
// (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY), and the
// Authorizer may grant rights to its common name.
//
// Rotation: gRPC 1.51 serves changing certificates only through its
// FileWatcherCertificateProvider, which re-reads files every second. It is
// not pointed at the configured files, which an operator may leave half
// written or mismatched: ServerTls reads and checks them (as at start) and
// only then publishes a copy into a private directory of its own (mode
// 0700, files 0600, in memory where it can: $RUNTIME_DIRECTORY (systemd's
// tmpfs), else /dev/shm, else $TMPDIR or /tmp, which may be a disk), as a
// new generation directory that one symlink rename
// makes current, the swap gRPC documents as safe; each generation's files
// get an mtime a second later than the last one's (gRPC compares whole
// seconds to see a pair change under it). New handshakes use it within
// about a second; connections already open keep theirs. A check that fails
// publishes nothing; unchanged files publish nothing either. The directory
// (eventbus-tls-PID-XXXXXX) is flock'ed while the daemon runs and removed
// with the object; one left by a daemon that was killed is removed at the
// next start (its lock is gone with it). The previous generation stays
// until the next rotation, as gRPC may still be reading it.
//
// Create and Rotate are called from one thread (the daemon's main thread);
// credentials() is immutable after Create.
#ifndef EVENTBUS_SERVER_SECURITY_TLS_CREDENTIALS_H_
#define EVENTBUS_SERVER_SECURITY_TLS_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>

#include <ctime>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace eventbus {

// The files of server.tls. Empty strings: off.
struct TlsOptions {
  // PEM certificate chain of the server; TLS is on when set.
  std::string cert_file;
  // PEM private key of that certificate; needed with cert_file.
  std::string key_file;
  // PEM CA certificates: when set, clients must present a certificate
  // signed by one of them (mTLS); needs cert_file and key_file.
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty(); }
};

// The combinations above: cert_file and key_file come together;
// client_ca_file needs them. Error: InvalidArgument naming the config keys.
absl::Status ValidateTlsOptions(const TlsOptions& tls);

// The checked contents of the server.tls files (tls_credentials.cc).
struct TlsMaterial;

class ServerTls {
 public:
  // Errors: those of ValidateTlsOptions; InvalidArgument naming the key and
  // the file when a file cannot be read, holds no PEM certificate (private
  // key), or the key is not the certificate's; Internal when the private
  // directory cannot be made or written.
  static absl::StatusOr<std::unique_ptr<ServerTls>> Create(
      const TlsOptions& tls);
  // Stops gRPC's file watcher, then removes the private directory.
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  std::shared_ptr<grpc::ServerCredentials> credentials() const {
    return credentials_;
  }
  bool enabled() const { return !directory_.empty(); }

  // A reload: reads and checks `tls`'s files (which may be other paths than
  // before) and publishes them for new handshakes. Turning TLS or mTLS on or
  // off takes a restart: InvalidArgument naming the key. On any error
  // nothing changes. With TLS off, and `tls` off: nothing to do.
  absl::Status Rotate(const TlsOptions& tls);

  // Seconds between gRPC's reads of the published files.
  static constexpr unsigned kRefreshSeconds = 1;

 private:
  ServerTls() = default;
  // Writes the checked files as generation `generation_ + 1` and makes it
  // current; removes the one before the previous.
  absl::Status Publish(const TlsMaterial& material);

  std::shared_ptr<grpc::ServerCredentials> credentials_;
  // Off: empty.
  std::string directory_;
  bool mutual_ = false;
  int generation_ = 0;
  // The last generation's files' mtime, and what it holds (public parts).
  time_t mtime_ = 0;
  std::string cert_chain_;
  std::string client_ca_;
  // The directory, flock'ed for the daemon's life; -1 when off.
  int lock_fd_ = -1;
  // After credentials_ (which hold it too), before directory_ is removed.
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_SECURITY_TLS_CREDENTIALS_H_

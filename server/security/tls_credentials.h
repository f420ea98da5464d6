// TlsServerCredentials: the gRPC server credentials of server.tls.
//
// Off (no cert_file): insecure credentials. With cert_file and key_file:
// TLS. With client_ca_file too: mTLS, where every client must present a
// certificate that one of those CAs signed
// (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY), and the
// Authorizer may grant rights to its common name.
//
// The files are read and checked once, at start-up: a running daemon does
// not notice them change. Stateless: safe from any thread.
#ifndef EVENTBUS_SERVER_SECURITY_TLS_CREDENTIALS_H_
#define EVENTBUS_SERVER_SECURITY_TLS_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>

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

// Errors: those of ValidateTlsOptions, and InvalidArgument naming the key
// and the file when a file cannot be read, holds no PEM certificate
// (private key), or the key is not the certificate's.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const TlsOptions& tls);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_SECURITY_TLS_CREDENTIALS_H_

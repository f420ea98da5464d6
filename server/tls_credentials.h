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
#ifndef EVENTBUS_SERVER_TLS_CREDENTIALS_H_
#define EVENTBUS_SERVER_TLS_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace eventbus {

// Errors: InvalidArgument naming the key and the file when a file cannot be
// read, holds no PEM certificate (private key), or the key is not the
// certificate's; and for the combinations ValidateConfig refuses.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const Config::Tls& tls);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_TLS_CREDENTIALS_H_

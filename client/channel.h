// CreateChannel: a channel to eventbusd with the daemon's security options:
// TLS or mTLS, and a bearer token sent on every call.
//
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
//       eventbus::client::CreateChannel({.server = "10.0.0.5:50051",
//                                        .token = token,
//                                        .tls = true,
//                                        .ca_file = "/etc/eventbus/ca.pem"});
//
// The token travels as the metadata "authorization: Bearer TOKEN", added by a
// client interceptor, so it is sent over plaintext loopback channels too
// (gRPC's call credentials are only sent over TLS).
#ifndef EVENTBUS_CLIENT_CHANNEL_H_
#define EVENTBUS_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace eventbus::client {

struct ChannelOptions {
  // host:port or unix:PATH.
  std::string server;
  // Bearer token for every call; empty: none.
  std::string token;
  // TLS on. Turned on by any of the files below.
  bool tls = false;
  // PEM file of the CAs that sign the server's certificate; empty: the
  // system's roots.
  std::string ca_file;
  // mTLS: this client's certificate chain and private key (PEM), both or
  // neither.
  std::string cert_file;
  std::string key_file;
};

// InvalidArgument when only one of cert_file and key_file is set, or a file
// cannot be read (the message names the option and the file).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ChannelOptions& options);

}  // namespace eventbus::client

#endif  // EVENTBUS_CLIENT_CHANNEL_H_

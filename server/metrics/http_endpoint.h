// HttpEndpoint: the daemon's HTTP side, for Prometheus and probes, served by
// civetweb (Debian's libcivetweb, the server prometheus-cpp embeds; its C
// API, which throws nothing).
//
//   GET /metrics  200, the page Handlers::metrics writes (text format 0.0.4)
//   GET /healthz  200 "serving" while Handlers::serving() is true, else 503
//   other paths   404
//   other methods 405, with Allow: GET
//
// Limits, so that a hostile client costs little: kThreads worker threads,
// request headers up to kMaxRequestBytes (civetweb answers larger ones with
// an error), a request must arrive whole within kRequestTimeout, and every
// connection closes after its response (no keep-alive to hold a thread).
//
// Owned by the daemon; destroying it stops civetweb and joins its threads.
// The handlers run on those threads, so they must be thread-safe and must
// outlive the endpoint.
#ifndef EVENTBUS_SERVER_METRICS_HTTP_ENDPOINT_H_
#define EVENTBUS_SERVER_METRICS_HTTP_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct mg_connection;
struct mg_context;

namespace eventbus {

class HttpEndpoint {
 public:
  static constexpr int kThreads = 2;
  static constexpr int kMaxRequestBytes = 8192;
  static constexpr absl::Duration kRequestTimeout = absl::Seconds(5);

  struct Handlers {
    std::function<std::string()> metrics;
    std::function<bool()> serving;
  };

  // Listens on `address` (IPv4:port; port 0 picks a free one). Error:
  // Unavailable with civetweb's reason when it cannot listen there.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(
      const std::string& address, Handlers handlers);
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // The address served, with the port resolved.
  const std::string& address() const { return address_; }

 private:
  explicit HttpEndpoint(Handlers handlers) : handlers_(std::move(handlers)) {}
  static int Handle(mg_connection* connection, void* self);
  int Respond(mg_connection* connection);

  const Handlers handlers_;
  mg_context* context_ = nullptr;
  std::string address_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_METRICS_HTTP_ENDPOINT_H_

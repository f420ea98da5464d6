#include "server/metrics/http_endpoint.h"

#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/text.h"
#include "server/metrics/exposition.h"

namespace eventbus {
namespace {

// Writes one whole response and returns its status (civetweb's "handled").
int Reply(mg_connection* connection, int status, const char* reason,
          const std::string& content_type, const std::string& body,
          const std::string& extra_headers = "") {
  const std::string head = absl::StrCat(
      "HTTP/1.1 ", status, " ", reason, "\r\nContent-Type: ", content_type,
      "\r\nContent-Length: ", body.size(), "\r\n", extra_headers,
      "Cache-Control: no-store\r\nConnection: close\r\n\r\n");
  mg_write(connection, head.data(), head.size());
  mg_write(connection, body.data(), body.size());
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(
    const std::string& address, Handlers handlers) {
  static std::once_flag initialized;
  std::call_once(initialized, [] { mg_init_library(0); });
  std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint(std::move(handlers)));
  const std::string threads = std::to_string(kThreads);
  const std::string max_request = std::to_string(kMaxRequestBytes);
  const std::string timeout =
      std::to_string(absl::ToInt64Milliseconds(kRequestTimeout));
  const char* options[] = {"listening_ports",
                           address.c_str(),
                           "num_threads",
                           threads.c_str(),
                           "max_request_size",
                           max_request.c_str(),
                           "request_timeout_ms",
                           timeout.c_str(),
                           "enable_keep_alive",
                           "no",
                           nullptr};
  mg_callbacks callbacks{};
  // civetweb's own complaints (a bad request, say) are a client's doing.
  callbacks.log_message = [](const mg_connection*, const char* message) {
    spdlog::debug("metrics endpoint: {}", EscapeForLog(message));
    return 1;
  };
  mg_init_data init{&callbacks, endpoint.get(), options};
  char reason[256] = "";
  unsigned code = 0;
  mg_error_data error{&code, reason, sizeof(reason)};
  endpoint->context_ = mg_start2(&init, &error);
  if (endpoint->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ": ",
                     reason[0] != '\0' ? reason : "civetweb refused it"));
  }
  mg_set_request_handler(endpoint->context_, "/", &HttpEndpoint::Handle,
                         endpoint.get());
  mg_server_port port{};
  if (mg_get_server_ports(endpoint->context_, 1, &port) == 1) {
    endpoint->address_ =
        absl::StrCat(address.substr(0, address.rfind(':')), ":", port.port);
  } else {
    endpoint->address_ = address;
  }
  return endpoint;
}

HttpEndpoint::~HttpEndpoint() {
  if (context_ != nullptr) mg_stop(context_);
}

int HttpEndpoint::Handle(mg_connection* connection, void* self) {
  return static_cast<HttpEndpoint*>(self)->Respond(connection);
}

int HttpEndpoint::Respond(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  const std::string path =
      request->local_uri != nullptr ? request->local_uri : "";
  if (path != "/metrics" && path != "/healthz") {
    return Reply(connection, 404, "Not Found", "text/plain; charset=utf-8",
                 "not found: try /metrics or /healthz\n");
  }
  if (std::strcmp(request->request_method, "GET") != 0) {
    return Reply(connection, 405, "Method Not Allowed",
                 "text/plain; charset=utf-8", "only GET is allowed\n",
                 "Allow: GET\r\n");
  }
  if (path == "/healthz") {
    if (handlers_.serving()) {
      return Reply(connection, 200, "OK", "text/plain; charset=utf-8",
                   "serving\n");
    }
    return Reply(connection, 503, "Service Unavailable",
                 "text/plain; charset=utf-8", "draining\n");
  }
  return Reply(connection, 200, "OK", Exposition::kContentType,
               handlers_.metrics());
}

}  // namespace eventbus

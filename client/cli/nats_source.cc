#include "client/cli/nats_source.h"

#include <google/protobuf/util/json_util.h>
#include <nats/nats.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/text.h"
#include "client/cli/command.h"
#include "eventbus/v1/eventbus.pb.h"

namespace eventbus::cli {
namespace {

// Owns a nats.c object.
template <typename T, void (*Destroy)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p != nullptr) Destroy(p);
  }
};

// natsStatus_GetText, and nats.c's own text for the last failure of this
// thread when it is about this status (without its "(file.c:123): ").
std::string NatsText(natsStatus status) {
  std::string text = natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (last != status || detail == nullptr) return text;
  std::string_view more(detail);
  if (const size_t end = more.find("): ");
      more.starts_with("(") && end != std::string_view::npos) {
    more.remove_prefix(end + 3);
  }
  if (!more.empty() && more != text)
    absl::StrAppend(&text, " (", std::string(more), ")");
  return text;
}

void OnDisconnected(natsConnection* nc, void*) {
  // Not for the close at the end.
  if (natsConnection_IsClosed(nc)) return;
  std::fprintf(stderr, "eventbus: disconnected from NATS; reconnecting\n");
}

void OnReconnected(natsConnection* nc, void*) {
  char url[256] = "";
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  std::fprintf(stderr, "eventbus: reconnected to %s\n",
               WithoutCredentials(url).c_str());
}

// The event a forwarded message carries, by its Content-Type.
absl::Status ParseEvent(natsMsg* msg, v1::Event* event) {
  const char* content_type = nullptr;
  natsMsgHeader_Get(msg, "Content-Type", &content_type);
  const std::string data(natsMsg_GetData(msg),
                         static_cast<size_t>(natsMsg_GetDataLength(msg)));
  if (content_type != nullptr &&
      std::string(content_type) == "application/json") {
    return google::protobuf::util::JsonStringToMessage(data, event).ok()
               ? absl::OkStatus()
               : absl::InvalidArgumentError("not an eventbus.v1.Event in JSON");
  }
  return event->ParseFromString(data)
             ? absl::OkStatus()
             : absl::InvalidArgumentError("not a serialized eventbus.v1.Event");
}

}  // namespace

int SubscribeFromNats(const NatsSourceOptions& options, Interrupt& interrupt) {
  const std::vector<std::string> urls =
      absl::StrSplit(options.urls, ',', absl::SkipEmpty());
  std::vector<const char*> servers;
  for (const std::string& url : urls) servers.push_back(url.c_str());
  Owned<natsOptions, natsOptions_Destroy> opts;
  natsStatus s = natsOptions_Create(&opts.p);
  if (s == NATS_OK) {
    s = natsOptions_SetServers(opts.p, servers.data(),
                               static_cast<int>(servers.size()));
  }
  // A consumer rides out server restarts: reconnect for ever.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.p, -1);
  if (s == NATS_OK) {
    s = natsOptions_SetDisconnectedCB(opts.p, &OnDisconnected, nullptr);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectedCB(opts.p, &OnReconnected, nullptr);
  }
  Owned<natsConnection, natsConnection_Destroy> connection;
  if (s == NATS_OK) s = natsConnection_Connect(&connection.p, opts.p);
  if (s != NATS_OK) {
    return RpcFailure("subscribe --nats", absl::UnavailableError(absl::StrCat(
                                              "cannot connect to ",
                                              WithoutCredentials(options.urls),
                                              ": ", NatsText(s))));
  }
  Owned<jsCtx, jsCtx_Destroy> js;
  s = natsConnection_JetStream(&js.p, connection.p, nullptr);
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = options.stream.c_str();
  sub_options.Ordered = true;
  sub_options.Config.DeliverPolicy =
      options.from_earliest ? js_DeliverAll : js_DeliverNew;
  Owned<natsSubscription, natsSubscription_Destroy> subscription;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (s == NATS_OK) {
    s = js_SubscribeSync(&subscription.p, js.p, options.subject.c_str(),
                         nullptr, &sub_options, &code);
  }
  if (s != NATS_OK) {
    const absl::Status status =
        s == NATS_NOT_FOUND || code == JSStreamNotFoundErr
            ? absl::FailedPreconditionError(absl::StrCat(
                  "no stream ", options.stream, " holds ", options.subject))
            : absl::UnavailableError(NatsText(s));
    return RpcFailure("subscribe --nats", status);
  }
  std::fprintf(stderr, "eventbus: reading stream %s (%s)%s\n",
               options.stream.c_str(), options.subject.c_str(),
               options.from_earliest ? " from its first message" : "");
  uint64_t received = 0;
  while (!interrupt.interrupted()) {
    natsMsg* msg = nullptr;
    // Short waits: an interrupt is seen within 200 ms.
    s = natsSubscription_NextMsg(&msg, subscription.p, 200);
    if (s == NATS_TIMEOUT) continue;
    if (s == NATS_SLOW_CONSUMER) {
      // nats.c dropped messages this reader did not take in time; the
      // ordered consumer sees the gap and starts again after the last one
      // printed.
      std::fprintf(stderr, "eventbus: slow consumer; resuming\n");
      continue;
    }
    if (s != NATS_OK) {
      return RpcFailure("subscribe --nats",
                        absl::UnavailableError(NatsText(s)));
    }
    Owned<natsMsg, natsMsg_Destroy> owned{msg};
    v1::Event event;
    if (absl::Status parsed = ParseEvent(msg, &event); !parsed.ok()) {
      // Someone else's message on these subjects: said, and skipped.
      std::fprintf(stderr, "eventbus: skipped a message on %s: %s\n",
                   natsMsg_GetSubject(msg),
                   std::string(parsed.message()).c_str());
      continue;
    }
    PrintLine(ToJson(event));
    if (options.count > 0 && ++received >= options.count) return 0;
  }
  return kInterrupted;
}

}  // namespace eventbus::cli

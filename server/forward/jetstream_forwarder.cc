#include "server/forward/jetstream_forwarder.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/forward/forward_subject.h"
#include "spdlog/spdlog.h"

namespace eventbus {
namespace {

// natsStatus_GetText, and nats.c's own text for the last failure of this
// thread when it is about this status (without its "(file.c:123): ").
std::string NatsStatusText(natsStatus status) {
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

// Room for the headers' names, fixed values and framing when checking an
// event against max_payload; the variable values are added per event.
constexpr int64_t kHeaderAllowance = 256;

// A natsStatus as a Status, with what was being done and, when nats.c has
// more to say ("Authorization Violation"), its text for this failure.
absl::Status NatsError(const std::string& what, natsStatus status) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", NatsStatusText(status)));
}

// Waits briefly for the acknowledgements still due (so that none runs
// after the attempt), then destroys the context.
void DestroyContext(jsCtx* js) {
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 1000;
  js_PublishAsyncComplete(js, &complete);
  jsCtx_Destroy(js);
}

// Owns a natsOptions, jsCtx or natsMsg.
template <typename T, void (*Destroy)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p != nullptr) Destroy(p);
  }
};

}  // namespace

std::string StreamSubjects(const std::string& subject) {
  const size_t brace = subject.find('{');
  if (brace == std::string::npos) return subject;
  const size_t dot = subject.rfind('.', brace);
  return absl::StrCat(subject.substr(0, dot == std::string::npos ? 0 : dot + 1),
                      ">");
}

const char* JetStreamForwarder::ErrorName(Error error) {
  switch (error) {
    case kConnect:
      return "connect";
    case kStream:
      return "stream";
    case kPublish:
      return "publish";
    case kAck:
      return "ack";
    case kDisconnected:
      return "disconnected";
    case kErrors:
      break;
  }
  return "unknown";
}

JetStreamForwarder::JetStreamForwarder(JetStreamForwarderOptions options,
                                       Bus bus,
                                       std::shared_ptr<ForwardCursor> cursor)
    : options_(std::move(options)),
      bus_(std::move(bus)),
      cursor_(std::move(cursor)) {}

JetStreamForwarder::~JetStreamForwarder() { Stop(absl::ZeroDuration()); }

void JetStreamForwarder::Start() {
  thread_ = std::thread([this] { Run(); });
}

void JetStreamForwarder::Stop(absl::Duration grace) {
  {
    MutexLock lock(&mu_);
    // What is in flight may still be acknowledged meanwhile.
    const absl::Time deadline = absl::Now() + grace;
    while (!in_flight_.empty() && failure_.ok() && !stopping_ &&
           changed_.WaitUntil(deadline)) {
    }
    stopping_ = true;
    changed_.SignalAll();
  }
  if (!thread_.joinable()) return;
  thread_.join();
  // No library thread may call back into a forwarder being destroyed.
  nats_CloseAndWait(5000);
  if (absl::Status synced = cursor_->Sync(); !synced.ok()) {
    spdlog::error("forward.nats: {}", std::string(synced.message()));
  }
}

absl::Status JetStreamForwarder::Failed(Error error, absl::Status status) {
  ++errors_[error];
  return status;
}

void JetStreamForwarder::Run() {
  std::mt19937_64 random(std::random_device{}());
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    const uint64_t before = cursor();
    const absl::Status status = Forward();
    connected_ = false;
    MutexLock lock(&mu_);
    // Stopped, or the bus drained and everything read was acknowledged.
    if (stopping_ || status.ok()) return;
    // Progress since the last failure starts the backoff over.
    if (cursor() > before) backoff = options_.min_backoff;
    // Full jitter: anywhere up to the current backoff.
    const absl::Duration wait =
        absl::Nanoseconds(std::uniform_int_distribution<int64_t>(
            absl::ToInt64Nanoseconds(backoff) / 2,
            absl::ToInt64Nanoseconds(backoff))(random));
    spdlog::warn("forward.nats: {}; retrying in {} from sequence {}",
                 std::string(status.message()), absl::FormatDuration(wait),
                 cursor() + 1);
    backoff = std::min(backoff * 2, options_.max_backoff);
    const absl::Time until = absl::Now() + wait;
    while (!stopping_ && changed_.WaitUntil(until)) {
    }
    if (stopping_) return;
  }
}

absl::Status JetStreamForwarder::Forward() {
  {
    MutexLock lock(&mu_);
    in_flight_.clear();
    failure_ = absl::OkStatus();
  }
  Owned<natsOptions, natsOptions_Destroy> opts;
  natsStatus s = natsOptions_Create(&opts.p);
  std::vector<const char*> urls;
  for (const std::string& url : options_.urls) urls.push_back(url.c_str());
  if (s == NATS_OK) {
    s = natsOptions_SetServers(opts.p, urls.data(),
                               static_cast<int>(urls.size()));
  }
  // No reconnects inside the library: a lost connection ends the attempt,
  // and the next one starts from the cursor (nothing buffered is lost or
  // sent out of order).
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.p, 0);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.p, 2000);
  if (s == NATS_OK) {
    s = natsOptions_SetDisconnectedCB(opts.p, &OnDisconnected, this);
  }
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts.p, &OnClosed, this);
  if (s == NATS_OK && !options_.token.empty()) {
    s = natsOptions_SetToken(opts.p, options_.token.c_str());
  }
  if (s == NATS_OK && !options_.user.empty()) {
    s = natsOptions_SetUserInfo(opts.p, options_.user.c_str(),
                                options_.password.c_str());
  }
  if (s == NATS_OK && !options_.credentials_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(
        opts.p, options_.credentials_file.c_str(), nullptr);
  }
  if (s == NATS_OK && !options_.nkey.empty()) {
    s = natsOptions_SetNKeyFromSeed(opts.p, options_.nkey.c_str(),
                                    options_.nkey_seed_file.c_str());
  }
  if (s == NATS_OK && !options_.tls_ca_file.empty()) {
    s = natsOptions_SetSecure(opts.p, true);
    if (s == NATS_OK) {
      s = natsOptions_LoadCATrustedCertificates(opts.p,
                                                options_.tls_ca_file.c_str());
    }
  }
  if (s == NATS_OK && !options_.tls_cert_file.empty()) {
    s = natsOptions_LoadCertificatesChain(
        opts.p, options_.tls_cert_file.c_str(), options_.tls_key_file.c_str());
  }
  if (s != NATS_OK) {
    return Failed(kConnect, NatsError("cannot set the connection options", s));
  }
  natsConnection* connection = nullptr;
  {
    MutexLock lock(&mu_);
    closed_ = false;
  }
  s = natsConnection_Connect(&connection, opts.p);
  if (s != NATS_OK) {
    return Failed(kConnect, NatsError("cannot connect", s));
  }
  // The end of the attempt: no lost connection to count, and the
  // library's callbacks for this connection (which run on its own
  // threads) are over before the next attempt, or Stop, goes on.
  const absl::Cleanup close = [this, connection] {
    {
      MutexLock lock(&mu_);
      live_ = false;
      in_flight_.clear();
    }
    natsConnection_Destroy(connection);
    MutexLock lock(&mu_);
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (!closed_ && changed_.WaitUntil(deadline)) {
    }
  };
  natsConnection* const nc = connection;
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.PublishAsync.MaxPending =
      static_cast<int64_t>(options_.max_in_flight);
  js_options.PublishAsync.AckHandler = &OnAck;
  js_options.PublishAsync.AckHandlerClosure = this;
  Owned<jsCtx, DestroyContext> js;
  s = natsConnection_JetStream(&js.p, nc, &js_options);
  if (s != NATS_OK) return Failed(kConnect, NatsError("no JetStream", s));

  // The stream: left alone when it exists.
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  s = js_GetStreamInfo(&info, js.p, options_.stream.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND) {
    const std::string subjects = StreamSubjects(options_.subject);
    const char* subject_list[] = {subjects.c_str()};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = options_.stream.c_str();
    config.Subjects = subject_list;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Replicas = options_.replicas;
    config.Duplicates = absl::ToInt64Nanoseconds(options_.duplicate_window);
    s = js_AddStream(&info, js.p, &config, nullptr, &code);
    if (s == NATS_OK) {
      spdlog::info("forward.nats: created stream {} for {}", options_.stream,
                   subjects);
    }
  }
  // A replicated stream without a leader (just created, or electing one)
  // loses what it is sent, and takes what comes after once it has one: the
  // resends would then land out of order. Wait for the leader instead.
  const bool leaderless =
      s == NATS_OK && info != nullptr && info->Cluster != nullptr &&
      (info->Cluster->Leader == nullptr || *info->Cluster->Leader == '\0');
  if (info != nullptr) jsStreamInfo_Destroy(info);
  if (s != NATS_OK) {
    return Failed(kStream,
                  NatsError(absl::StrCat("stream ", options_.stream, " (",
                                         static_cast<int>(code), ")"),
                            s));
  }
  if (leaderless) {
    return Failed(
        kStream, absl::UnavailableError(absl::StrCat("stream ", options_.stream,
                                                     " has no leader yet")));
  }

  const uint64_t from = cursor() + 1;
  // From the cursor even when it is the next sequence: a publish between
  // a check and the subscribe would otherwise be skipped.
  absl::StatusOr<std::unique_ptr<Subscription>> subscription = bus_.Subscribe(
      SubscribeOptions{.start = SubscribeOptions::Start::kSequence,
                       .from_sequence = from,
                       .name = "forward.nats"});
  if (absl::IsOutOfRange(subscription.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the cursor (", cursor(), ") is beyond the durable log's end (",
        bus_.next_sequence() - 1,
        "): the log was replaced? Remove forward-nats.cursor to forward it "
        "from the start"));
  }
  if (!subscription.ok()) return subscription.status();
  connected_ = true;
  {
    MutexLock lock(&mu_);
    live_ = true;
  }
  spdlog::info("forward.nats: connected; forwarding from sequence {}",
               (*subscription)->cursor());

  const SubjectTemplate subject_template(options_.subject);
  const std::string content_type =
      options_.encoding == "json"
          ? "application/json"
          : "application/protobuf; proto=eventbus.v1.Event";
  ReadBatch batch;
  while (true) {
    size_t room = 0;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && failure_.ok() &&
             in_flight_.size() >= options_.max_in_flight) {
        changed_.WaitUntil(absl::Now() + absl::Milliseconds(100));
      }
      if (stopping_) break;
      if (!failure_.ok()) return failure_;
      room = options_.max_in_flight - in_flight_.size();
    }
    (*subscription)
        ->Read(absl::Now() + absl::Milliseconds(100),
               {.max_events = room, .max_bytes = size_t{4} << 20}, &batch);
    if (!batch.ended.ok()) return batch.ended;
    if (batch.end_of_stream) {
      // The bus drained: what was read gets its acknowledgements, then
      // the forwarder is done.
      jsPubOptions complete;
      jsPubOptions_Init(&complete);
      complete.MaxWait = absl::ToInt64Milliseconds(options_.ack_timeout);
      js_PublishAsyncComplete(js.p, &complete);
      MutexLock lock(&mu_);
      if (!failure_.ok()) return failure_;
      if (!in_flight_.empty()) {
        return absl::UnavailableError(absl::StrCat(
            in_flight_.size(), " events not acknowledged at the drain"));
      }
      spdlog::info("forward.nats: drained through sequence {}", cursor());
      return absl::OkStatus();
    }
    if (batch.lag) {
      spdlog::error(
          "forward.nats: sequences {}..{} ({} events) were removed by "
          "retention before they were forwarded (forward.nats.max_backlog)",
          batch.lag->first_sequence, batch.lag->last_sequence,
          batch.lag->missed());
      skipped_ += batch.lag->missed();
      MutexLock lock(&mu_);
      in_flight_.push_back({batch.lag->last_sequence, true, false});
      AdvanceLocked();
    }
    for (const auto& event : batch.events) {
      // The fields it needs, read from the encoding: parsing each event
      // into a message cost a quarter of the forwarder's CPU.
      ForwardFields fields;
      if (!ScanForwardFields(event->encoded(), &fields)) {
        const v1::Event& parsed = event->event();  // never: the bus wrote it
        fields = {parsed.id(), parsed.source(), parsed.has_audit()};
      }
      const std::string subject = subject_template.Render(
          fields.source, fields.audit ? "audit" : "space_name");
      const std::string id(fields.id);
      const std::string source(fields.source);
      std::string json;
      std::string_view data = event->encoded();
      if (options_.encoding == "json") {
        // An Event always converts: it has no Any field.
        (void)google::protobuf::util::MessageToJsonString(event->event(),
                                                          &json);
        data = json;
      }
      // What NATS can never take is skipped, loudly, not retried forever.
      // The headers count: the source and the id have no length limit.
      const int64_t headers =
          kHeaderAllowance +
          static_cast<int64_t>(id.size() + source.size() +
                               options_.instance_id.size() +
                               options_.stream.size() + content_type.size());
      if (static_cast<int64_t>(data.size()) + headers >
          natsConnection_GetMaxPayload(nc)) {
        spdlog::error(
            "forward.nats: sequence {} is {} bytes, more than the NATS "
            "server's max_payload ({}) allows: not forwarded",
            event->sequence(), data.size(), natsConnection_GetMaxPayload(nc));
        skipped_ += 1;
        MutexLock lock(&mu_);
        in_flight_.push_back({event->sequence(), true, false});
        AdvanceLocked();
        continue;
      }
      Owned<natsMsg, natsMsg_Destroy> msg;
      s = natsMsg_Create(&msg.p, subject.c_str(), nullptr, data.data(),
                         static_cast<int>(data.size()));
      const std::string sequence = absl::StrCat(event->sequence());
      if (s == NATS_OK) {
        s = natsMsgHeader_Set(msg.p, "Eventbus-Instance",
                              options_.instance_id.c_str());
      }
      if (s == NATS_OK) {
        s = natsMsgHeader_Set(msg.p, "Eventbus-Sequence", sequence.c_str());
      }
      if (s == NATS_OK) {
        s = natsMsgHeader_Set(msg.p, "Eventbus-Source", source.c_str());
      }
      if (s == NATS_OK) {
        s = natsMsgHeader_Set(msg.p, "Content-Type", content_type.c_str());
      }
      jsPubOptions publish;
      jsPubOptions_Init(&publish);
      publish.MsgId = id.c_str();
      publish.ExpectStream = options_.stream.c_str();
      publish.MaxWait = absl::ToInt64Milliseconds(options_.ack_timeout);
      {
        MutexLock lock(&mu_);
        in_flight_.push_back({event->sequence(), false, true});
      }
      if (s == NATS_OK) s = js_PublishMsgAsync(js.p, &msg.p, &publish);
      if (s == NATS_MAX_PAYLOAD) {
        // Over max_payload after all (the estimate above was short).
        spdlog::error(
            "forward.nats: sequence {} is larger than the NATS server's "
            "max_payload ({}) allows: not forwarded",
            event->sequence(), natsConnection_GetMaxPayload(nc));
        Acked(event->sequence(), absl::OkStatus(), /*skipped=*/true);
        continue;
      }
      if (s != NATS_OK) {
        return Failed(
            kPublish,
            NatsError(absl::StrCat("cannot publish sequence ", sequence), s));
      }
    }
  }
  // Stopping: what is in flight gets its moment to be acknowledged when
  // `js` goes (DestroyContext), and the connection after it (`close`).
  return absl::OkStatus();
}

void JetStreamForwarder::OnAck(jsCtx*, natsMsg* msg, jsPubAck* ack,
                               jsPubAckErr* error, void* closure) {
  auto* self = static_cast<JetStreamForwarder*>(closure);
  const char* header = nullptr;
  uint64_t sequence = 0;
  // Every message this forwarder sends has it; without it, sequence 0 is
  // in no attempt's window and the ack is ignored.
  if (natsMsgHeader_Get(msg, "Eventbus-Sequence", &header) != NATS_OK ||
      !absl::SimpleAtoi(header, &sequence)) {
    sequence = 0;
  }
  if (ack != nullptr) {
    self->Acked(sequence, absl::OkStatus());
  } else if (error != nullptr &&
             error->ErrCode == JSStreamMessageExceedsMaximumErr) {
    // The stream's max_msg_size: what it can never take is skipped,
    // loudly, not retried forever.
    spdlog::error(
        "forward.nats: sequence {} is larger than stream {} allows "
        "(max_msg_size): not forwarded",
        sequence, self->options_.stream);
    self->Acked(sequence, absl::OkStatus(), /*skipped=*/true);
  } else {
    self->Acked(sequence,
                absl::UnavailableError(absl::StrCat(
                    "sequence ", sequence, " not acknowledged: ",
                    error != nullptr && error->ErrText != nullptr
                        ? error->ErrText
                        : natsStatus_GetText(error != nullptr ? error->Err
                                                              : NATS_ERR))));
  }
  natsMsg_Destroy(msg);
}

void JetStreamForwarder::OnDisconnected(natsConnection*, void* closure) {
  auto* self = static_cast<JetStreamForwarder*>(closure);
  MutexLock lock(&self->mu_);
  // Not when the forwarder closes the connection itself.
  if (self->live_ && self->failure_.ok()) {
    ++self->errors_[kDisconnected];
    self->failure_ = absl::UnavailableError("the connection to NATS was lost");
  }
  self->changed_.SignalAll();
}

void JetStreamForwarder::OnClosed(natsConnection*, void* closure) {
  auto* self = static_cast<JetStreamForwarder*>(closure);
  MutexLock lock(&self->mu_);
  self->closed_ = true;
  self->changed_.SignalAll();
}

void JetStreamForwarder::Acked(uint64_t sequence, const absl::Status& error,
                               bool skipped) {
  MutexLock lock(&mu_);
  if (!error.ok()) {
    if (failure_.ok()) {
      ++errors_[kAck];
      failure_ = error;
    }
    changed_.SignalAll();
    return;
  }
  // In sequence order: find it (an ack of an earlier attempt may find none).
  const auto it = std::lower_bound(
      in_flight_.begin(), in_flight_.end(), sequence,
      [](const InFlight& entry, uint64_t s) { return entry.sequence < s; });
  if (it == in_flight_.end() || it->sequence != sequence || it->acked) return;
  it->acked = true;
  if (skipped) {
    it->event = false;
    ++skipped_;
  }
  AdvanceLocked();
}

void JetStreamForwarder::AdvanceLocked() {
  uint64_t through = 0;
  while (!in_flight_.empty() && in_flight_.front().acked) {
    through = in_flight_.front().sequence;
    if (in_flight_.front().event) ++forwarded_;
    in_flight_.pop_front();
  }
  if (through == 0) return;
  if (absl::Status stored = cursor_->Store(through); !stored.ok()) {
    // Forwarding goes on; a restart resends from the last stored cursor.
    spdlog::error("forward.nats: {}", std::string(stored.message()));
  }
  changed_.SignalAll();
}

}  // namespace eventbus

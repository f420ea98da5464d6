// Forwarding into NATS JetStream, end to end: a real nats-server -js (the
// Debian package) and a real eventbusd on loopback ports, each with its own
// directory. Events go in through gRPC PublishStream; the stream is read
// back with nats.c (js_GetMsg), message by message, with its headers.
#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "eventbus/v1/eventbus.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/child_process.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::ChildProcess;
using ::eventbus::testing::DaemonProcess;
using ::eventbus::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kNatsServer[] = "/usr/sbin/nats-server";
constexpr char kStream[] = "EVENTBUS";
// The example NKey pair of the nats.c README.
constexpr char kNkey[] =
    "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
constexpr char kNkeySeed[] =
    "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY";

// A port free now on 127.0.0.1 (the kernel's pick, released for the child).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(address.sin_port);
}

// GET http://`address``path` (HTTP/1.0, so the body ends with the
// connection); the whole response, or "" when it cannot connect.
std::string HttpGet(const std::string& address, const std::string& path) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return "";
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t got = 0;
      while ((got = read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, static_cast<size_t>(got));
      }
    }
  }
  close(fd);
  return response;
}

// One nats-server with JetStream, its store in `dir`.
class NatsServer {
 public:
  NatsServer(int port, std::string store) : port_(port), store_(store) {}

  // Starts it, with `extra` arguments, and waits until it is ready.
  ::testing::AssertionResult Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {kNatsServer, "-js", "-a",
                                     "127.0.0.1", "-p",  absl::StrCat(port_),
                                     "-sd",       store_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto process = ChildProcess::Start(args);
    if (!process.ok()) {
      return ::testing::AssertionFailure() << process.status();
    }
    process_ = *std::move(process);
    if (!process_->AwaitStderr("Server is ready", absl::Seconds(20))) {
      return ::testing::AssertionFailure() << "nats-server did not start:\n"
                                           << process_->Stderr();
    }
    return ::testing::AssertionSuccess();
  }
  void Kill() {
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(10));
    process_.reset();
  }
  std::string url() const { return absl::StrCat("nats://127.0.0.1:", port_); }

 private:
  const int port_;
  const std::string store_;
  std::unique_ptr<ChildProcess> process_;
};

// What the stream holds, message by message.
struct Forwarded {
  uint64_t eventbus_sequence = 0;
  std::string msg_id;
  std::string instance;
  std::string source;
  std::string content_type;
  std::string data;
  v1::Event event;
};

class ForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats_port_ = FreePort();
    ASSERT_GT(nats_port_, 0);
    nats_ = std::make_unique<NatsServer>(nats_port_, dir_.Path("nats"));
  }

  // An eventbusd forwarding to nats_, its log in `log`.
  static std::unique_ptr<DaemonProcess> StartSidecar(
      const std::string& log, const std::string& nats_url,
      const std::vector<std::string>& extra) {
    std::vector<std::string> flags = {
        "--address",       "127.0.0.1:0", "--storage-path", log,
        "--storage-fsync", "10ms",        "--nats-url",     nats_url};
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto daemon = DaemonProcess::Start(flags);
    EXPECT_TRUE(daemon.ok()) << daemon.status();
    return daemon.ok() ? *std::move(daemon) : nullptr;
  }
  void StartDaemon(std::vector<std::string> extra = {}) {
    daemon_ = StartSidecar(dir_.Path("log"), nats_->url(), extra);
    ASSERT_NE(daemon_, nullptr);
    stub_ = v1::EventBusService::NewStub(grpc::CreateChannel(
        daemon_->address(), grpc::InsecureChannelCredentials()));
  }

  // Publishes `count` events through one PublishStream, in requests of 500.
  void Publish(int count, const std::string& source = "opsml") {
    Publish(stub_.get(), count, source);
  }
  // The same through `stub`; the events whose index is in `large` carry a
  // 2,000-byte resource id.
  static void Publish(v1::EventBusService::Stub* stub, int count,
                      const std::string& source,
                      const std::vector<int>& large = {}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(120));
    auto stream = stub->PublishStream(&context);
    int sent = 0;
    while (sent < count) {
      v1::PublishStreamRequest request;
      for (int i = 0; i < 500 && sent < count; ++i, ++sent) {
        v1::Event* event = request.add_events();
        event->set_source(source);
        event->mutable_audit()->set_username("alice");
        event->mutable_audit()->set_operation(v1::OPERATION_READ);
        event->mutable_audit()->set_resource_id(absl::StrCat("r-", sent));
        if (std::find(large.begin(), large.end(), sent) != large.end()) {
          event->mutable_audit()->set_resource_id(std::string(2000, 'x'));
        }
      }
      ASSERT_TRUE(stream->Write(request));
    }
    stream->WritesDone();
    int acked = 0;
    v1::PublishStreamResponse response;
    while (stream->Read(&response)) acked += response.acks_size();
    const grpc::Status status = stream->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(acked, count);
  }

  // Connects a reader of the stream (to `url`, or nats_).
  ::testing::AssertionResult ConnectReader(std::string url = "") {
    if (url.empty()) url = nats_->url();
    natsStatus s = natsConnection_ConnectTo(&reader_, url.c_str());
    if (s == NATS_OK)
      s = natsConnection_JetStream(&reader_js_, reader_, nullptr);
    if (s != NATS_OK) {
      return ::testing::AssertionFailure() << natsStatus_GetText(s);
    }
    return ::testing::AssertionSuccess();
  }
  void TearDown() override {
    if (reader_js_ != nullptr) jsCtx_Destroy(reader_js_);
    if (reader_ != nullptr) natsConnection_Destroy(reader_);
  }

  // Messages in the stream now (0 when it does not exist yet).
  uint64_t StreamMessages() {
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, reader_js_, kStream, nullptr, nullptr) !=
        NATS_OK) {
      return 0;
    }
    const uint64_t messages = info->State.Msgs;
    jsStreamInfo_Destroy(info);
    return messages;
  }
  // Waits until the stream holds `count` messages.
  ::testing::AssertionResult AwaitMessages(uint64_t count,
                                           absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    uint64_t now = 0;
    while ((now = StreamMessages()) < count && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (now == count) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "the stream holds " << now << " messages, not " << count
           << "; eventbusd log:\n"
           << (daemon_ != nullptr ? daemon_->Log() : "");
  }
  // Every message of the stream, in stream order.
  std::vector<Forwarded> ReadStream() {
    std::vector<Forwarded> all;
    const uint64_t count = StreamMessages();
    for (uint64_t seq = 1; seq <= count; ++seq) {
      natsMsg* msg = nullptr;
      if (js_GetMsg(&msg, reader_js_, kStream, seq, nullptr, nullptr) !=
          NATS_OK) {
        ADD_FAILURE() << "no stream message " << seq;
        break;
      }
      Forwarded forwarded;
      const char* value = nullptr;
      if (natsMsgHeader_Get(msg, "Eventbus-Sequence", &value) == NATS_OK) {
        EXPECT_TRUE(absl::SimpleAtoi(value, &forwarded.eventbus_sequence));
      }
      if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &value) == NATS_OK) {
        forwarded.msg_id = value;
      }
      if (natsMsgHeader_Get(msg, "Eventbus-Instance", &value) == NATS_OK) {
        forwarded.instance = value;
      }
      if (natsMsgHeader_Get(msg, "Eventbus-Source", &value) == NATS_OK) {
        forwarded.source = value;
      }
      if (natsMsgHeader_Get(msg, "Content-Type", &value) == NATS_OK) {
        forwarded.content_type = value;
      }
      forwarded.data.assign(natsMsg_GetData(msg),
                            static_cast<size_t>(natsMsg_GetDataLength(msg)));
      if (forwarded.content_type == "application/json") {
        EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                        forwarded.data, &forwarded.event)
                        .ok())
            << forwarded.data;
      } else {
        EXPECT_TRUE(forwarded.event.ParseFromString(forwarded.data));
      }
      natsMsg_Destroy(msg);
      all.push_back(std::move(forwarded));
    }
    return all;
  }
  // The stream holds events 1..count exactly once each, in order, with
  // their headers.
  void ExpectExactlyOnceInOrder(uint64_t count) {
    const std::vector<Forwarded> all = ReadStream();
    ASSERT_EQ(all.size(), count);
    for (uint64_t i = 0; i < count; ++i) {
      const Forwarded& one = all[i];
      ASSERT_EQ(one.eventbus_sequence, i + 1) << "stream message " << i + 1;
      EXPECT_EQ(one.event.sequence(), i + 1);
      EXPECT_EQ(one.msg_id, one.event.id());
      EXPECT_EQ(one.instance, all[0].instance);
      EXPECT_FALSE(one.instance.empty());
      EXPECT_EQ(one.source, one.event.source());
      EXPECT_EQ(one.content_type,
                "application/protobuf; proto=eventbus.v1.Event");
    }
  }

  // The daemon's metrics address, from its log ("" when it has none).
  static std::string MetricsAddress(const DaemonProcess& daemon) {
    const std::string log = daemon.Log();
    const std::string marker = "metrics on http://";
    const size_t at = log.find(marker);
    if (at == std::string::npos) return "";
    const size_t from = at + marker.size();
    return log.substr(from, log.find("/metrics", from) - from);
  }
  // Waits until the metrics page holds `line` (a whole line); the page.
  static std::string AwaitMetric(const std::string& address,
                                 const std::string& line,
                                 absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string page = HttpGet(address, "/metrics");
    while (page.find("\n" + line + "\n") == std::string::npos &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      page = HttpGet(address, "/metrics");
    }
    return page;
  }

  TempDir dir_{"eventbus-forward-test"};
  int nats_port_ = 0;
  std::unique_ptr<NatsServer> nats_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::EventBusService::Stub> stub_;
  natsConnection* reader_ = nullptr;
  jsCtx* reader_js_ = nullptr;
};

TEST_F(ForwardTest, FiftyThousandEventsArriveOnceInOrderWithHeaders) {
  ASSERT_TRUE(nats_->Start());
  StartDaemon();
  ASSERT_TRUE(ConnectReader());
  Publish(50000);
  ASSERT_TRUE(AwaitMessages(50000, absl::Seconds(90)));
  ExpectExactlyOnceInOrder(50000);
  // A drain forwards everything and exits 0.
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(absl::Seconds(20)), 0) << daemon_->Log();
  EXPECT_THAT(daemon_->Log(), HasSubstr("forward.nats: drained through "
                                        "sequence 50000"));
}

TEST_F(ForwardTest, NatsKilledAndRestartedLosesAndDoublesNothing) {
  ASSERT_TRUE(nats_->Start());
  // A small window: the kill finds events in flight, unacknowledged.
  StartDaemon({"--nats-max-in-flight", "16"});
  ASSERT_TRUE(ConnectReader());
  Publish(10000);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (StreamMessages() < 2000 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  jsCtx_Destroy(reader_js_);
  natsConnection_Destroy(reader_);
  reader_ = nullptr;
  reader_js_ = nullptr;
  nats_->Kill();
  // The daemon goes on accepting; the log keeps the backlog.
  Publish(10000);
  ASSERT_TRUE(
      daemon_->AwaitLog("forward.nats: cannot connect", absl::Seconds(20)))
      << daemon_->Log();
  ASSERT_TRUE(nats_->Start());
  ASSERT_TRUE(ConnectReader());
  const uint64_t before = StreamMessages();
  EXPECT_LT(before, 10000u) << "the kill came after everything was acked";
  ASSERT_TRUE(AwaitMessages(20000, absl::Seconds(90)));
  ExpectExactlyOnceInOrder(20000);
}

TEST_F(ForwardTest, EventbusdKilledAndRestartedLosesAndDoublesNothing) {
  ASSERT_TRUE(nats_->Start());
  // A small window and ring: the kill comes mid-forward, and the forwarder
  // reads the log.
  StartDaemon({"--nats-max-in-flight", "16", "--lane-normal-capacity", "64"});
  ASSERT_TRUE(ConnectReader());
  Publish(30000);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (StreamMessages() < 5000 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  daemon_->Signal(SIGKILL);
  daemon_->Wait(absl::Seconds(10));
  const uint64_t before = StreamMessages();
  EXPECT_GE(before, 5000u);
  EXPECT_LT(before, 30000u) << "the kill came after everything was forwarded";
  StartDaemon();
  Publish(5000);
  ASSERT_TRUE(AwaitMessages(35000, absl::Seconds(90)));
  ExpectExactlyOnceInOrder(35000);
}

TEST_F(ForwardTest, AnUnreachableNatsAtStartIsRetriedWhileTheDaemonServes) {
  // nats-server is not running yet.
  StartDaemon({"--metrics-address", "127.0.0.1:0"});
  Publish(100);
  ASSERT_TRUE(
      daemon_->AwaitLog("forward.nats: cannot connect", absl::Seconds(20)))
      << daemon_->Log();
  EXPECT_THAT(daemon_->Log(), HasSubstr("retrying in"));
  const std::string log = daemon_->Log();
  const std::string marker = "metrics on http://";
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const size_t from = at + marker.size();
  const std::string metrics =
      log.substr(from, log.find("/metrics", from) - from);
  std::string page = HttpGet(metrics, "/metrics");
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_connected 0\n"));
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_behind_events 100\n"));
  EXPECT_THAT(
      page, ::testing::ContainsRegex(
                "eventbus_forward_errors_total\\{reason=\"connect\"\\} [1-9]"));
  ASSERT_TRUE(nats_->Start());
  ASSERT_TRUE(ConnectReader());
  ASSERT_TRUE(AwaitMessages(100, absl::Seconds(60)));
  ExpectExactlyOnceInOrder(100);
  // Forwarded and connected, as the metrics say.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (page.find("\neventbus_forward_behind_events 0\n") ==
             std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    page = HttpGet(metrics, "/metrics");
  }
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_behind_events 0\n"));
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_connected 1\n"));
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_events_total 100\n"));
}

TEST_F(ForwardTest, ForwardingWithoutStorageIsABadConfig) {
  std::string log;
  absl::StatusOr<int> status = DaemonProcess::Run(
      {"--address", "127.0.0.1:0", "--nats-url", "nats://127.0.0.1:4222"},
      &log);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 2) << log;
  EXPECT_THAT(log, HasSubstr("forward.nats.url needs storage.path"));
}

TEST_F(ForwardTest, CredentialsThatGoTogetherAreABadConfigAlone) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--nats-nkey", kNkey},
       "forward.nats.nkey and forward.nats.nkey_seed_file go together"},
      {{"--nats-tls-cert-file", "/etc/hostname"},
       "forward.nats.tls_cert_file and forward.nats.tls_key_file go together"},
      {{"--nats-nkey", kNkey, "--nats-nkey-seed-file", "/etc/hostname",
        "--nats-credentials-file", "/etc/hostname"},
       "forward.nats.nkey and forward.nats.credentials_file exclude each "
       "other"},
      {{"--nats-max-in-flight", "0"}, "--nats-max-in-flight"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"--address",      "127.0.0.1:0",
                                     "--storage-path", dir_.Path("log"),
                                     "--nats-url",     "nats://127.0.0.1:4222"};
    args.insert(args.end(), flags.begin(), flags.end());
    std::string log;
    absl::StatusOr<int> status = DaemonProcess::Run(args, &log);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(*status, 2) << log;
    EXPECT_THAT(log, HasSubstr(message));
  }
}

TEST_F(ForwardTest, ThreeSidecarsIntoOneStreamEachEventOnce) {
  ASSERT_TRUE(nats_->Start());
  ASSERT_TRUE(ConnectReader());
  constexpr int kEach = 3000;
  std::vector<std::unique_ptr<DaemonProcess>> sidecars;
  std::vector<std::thread> publishers;
  for (int i = 0; i < 3; ++i) {
    sidecars.push_back(StartSidecar(dir_.Path(absl::StrCat("log-", i)),
                                    nats_->url(),
                                    {"--nats-max-in-flight", "64"}));
    ASSERT_NE(sidecars.back(), nullptr);
  }
  // The three publish at once, each to its own sidecar.
  for (int i = 0; i < 3; ++i) {
    publishers.emplace_back([&sidecars, i] {
      auto stub = v1::EventBusService::NewStub(grpc::CreateChannel(
          sidecars[i]->address(), grpc::InsecureChannelCredentials()));
      Publish(stub.get(), kEach, absl::StrCat("opsml-", i));
    });
  }
  for (std::thread& publisher : publishers) publisher.join();
  ASSERT_TRUE(AwaitMessages(3 * kEach, absl::Seconds(90)));
  // Each sidecar's events, in the stream's order: 1..kEach, once each.
  std::map<std::string, std::vector<const Forwarded*>> by_instance;
  const std::vector<Forwarded> all = ReadStream();
  for (const Forwarded& one : all) by_instance[one.instance].push_back(&one);
  ASSERT_EQ(by_instance.size(), 3u);
  std::vector<std::string> sources;
  for (const auto& [instance, events] : by_instance) {
    ASSERT_EQ(events.size(), static_cast<size_t>(kEach)) << instance;
    for (int i = 0; i < kEach; ++i) {
      ASSERT_EQ(events[i]->eventbus_sequence, static_cast<uint64_t>(i + 1))
          << instance;
      EXPECT_EQ(events[i]->source, events[0]->source);
      EXPECT_EQ(events[i]->msg_id, events[i]->event.id());
    }
    sources.push_back(events[0]->source);
  }
  EXPECT_THAT(sources,
              ::testing::UnorderedElementsAre("opsml-0", "opsml-1", "opsml-2"));
}

TEST_F(ForwardTest, ABacklogBeyondMaxBacklogIsSkippedAndReported) {
  // NATS is away while 20,000 events arrive; retention keeps 2,000 and
  // max_backlog lets it remove the rest.
  StartDaemon({"--storage-segment-bytes", "64KiB", "--retention-max-events",
               "2000", "--nats-max-backlog", "2000", "--metrics-address",
               "127.0.0.1:0"});
  constexpr int kEvents = 20000;
  Publish(kEvents);
  ASSERT_TRUE(
      daemon_->AwaitLog("storage: retention removed", absl::Seconds(20)))
      << daemon_->Log();
  ASSERT_TRUE(nats_->Start());
  ASSERT_TRUE(ConnectReader());
  const std::string reported =
      "were removed by retention before they were "
      "forwarded";
  ASSERT_TRUE(daemon_->AwaitLog(reported, absl::Seconds(30))) << daemon_->Log();
  // "sequences 1..K (K events) were removed ...": the range, exactly.
  const std::string log = daemon_->Log();
  const size_t range =
      log.rfind("forward.nats: sequences ", log.find(reported));
  ASSERT_NE(range, std::string::npos) << log;
  const size_t dots = log.find("..", range);
  uint64_t first = 0;
  uint64_t last = 0;
  const size_t first_at =
      range + std::string("forward.nats: sequences ").size();
  ASSERT_TRUE(absl::SimpleAtoi(log.substr(first_at, dots - first_at), &first));
  ASSERT_TRUE(absl::SimpleAtoi(
      log.substr(dots + 2, log.find(' ', dots) - dots - 2), &last));
  EXPECT_EQ(first, 1u);
  EXPECT_GE(last, static_cast<uint64_t>(kEvents - 2000 - 1000));
  EXPECT_LT(last, static_cast<uint64_t>(kEvents - 2000 + 1));
  // The rest arrives, once each and in order.
  ASSERT_TRUE(AwaitMessages(kEvents - last, absl::Seconds(60)));
  const std::vector<Forwarded> all = ReadStream();
  ASSERT_EQ(all.size(), kEvents - last);
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].eventbus_sequence, last + 1 + i);
  }
  const std::string page =
      AwaitMetric(MetricsAddress(*daemon_), "eventbus_forward_behind_events 0",
                  absl::Seconds(10));
  EXPECT_THAT(page,
              HasSubstr(absl::StrCat("\neventbus_forward_skipped_events_total ",
                                     last, "\n")));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("\neventbus_forward_events_total ",
                                           kEvents - last, "\n")));
}

TEST_F(ForwardTest, JsonEncodingCarriesTheEventAsJson) {
  ASSERT_TRUE(nats_->Start());
  StartDaemon({"--nats-encoding", "json"});
  ASSERT_TRUE(ConnectReader());
  Publish(20);
  ASSERT_TRUE(AwaitMessages(20, absl::Seconds(30)));
  const std::vector<Forwarded> all = ReadStream();
  ASSERT_EQ(all.size(), 20u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].content_type, "application/json");
    EXPECT_EQ(all[i].data.front(), '{') << all[i].data;
    EXPECT_EQ(all[i].event.sequence(), i + 1) << all[i].data;
    EXPECT_EQ(all[i].event.audit().resource_id(), absl::StrCat("r-", i));
    EXPECT_EQ(all[i].msg_id, all[i].event.id());
  }
}

TEST_F(ForwardTest, AnEventTheStreamRefusesForItsSizeIsSkippedAndCounted) {
  ASSERT_TRUE(nats_->Start());
  ASSERT_TRUE(ConnectReader());
  // The stream exists, made by its operator with a 1,000-byte limit.
  const char* subjects[] = {"eventbus.>"};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = kStream;
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.MaxMsgSize = 1000;
  jsStreamInfo* info = nullptr;
  ASSERT_EQ(js_AddStream(&info, reader_js_, &config, nullptr, nullptr),
            NATS_OK);
  jsStreamInfo_Destroy(info);
  StartDaemon({"--metrics-address", "127.0.0.1:0"});
  // Events 3 and 7 (indexes 2 and 6) are over 2,000 bytes.
  Publish(stub_.get(), 10, "opsml", {2, 6});
  ASSERT_TRUE(AwaitMessages(8, absl::Seconds(30)));
  const std::string page =
      AwaitMetric(MetricsAddress(*daemon_), "eventbus_forward_behind_events 0",
                  absl::Seconds(10));
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_skipped_events_total 2\n"));
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_events_total 8\n"));
  std::vector<uint64_t> sequences;
  for (const Forwarded& one : ReadStream()) {
    sequences.push_back(one.eventbus_sequence);
  }
  EXPECT_THAT(sequences, ::testing::ElementsAre(1, 2, 4, 5, 6, 8, 9, 10));
  EXPECT_THAT(daemon_->Log(),
              HasSubstr("sequence 3 is larger than stream EVENTBUS allows"));
  EXPECT_THAT(daemon_->Log(),
              HasSubstr("sequence 7 is larger than stream EVENTBUS allows"));
}

TEST_F(ForwardTest, EachKindOfCredentialAuthenticates) {
  const std::string seed_file = dir_.Path("seed.nk");
  std::ofstream(seed_file) << kNkeySeed << "\n";
  const std::string nkey_conf = dir_.Path("nkey.conf");
  std::ofstream(nkey_conf) << "authorization { users = [ { nkey: " << kNkey
                           << " } ] }\n";
  struct Case {
    std::string name;
    std::vector<std::string> server;
    std::vector<std::string> daemon;
  };
  const std::vector<Case> cases = {
      {"token", {"--auth", "s3cr3t"}, {"--nats-token", "s3cr3t"}},
      {"user",
       {"--user", "eb", "--pass", "pw"},
       {"--nats-user", "eb", "--nats-password", "pw"}},
      {"nkey",
       {"-c", nkey_conf},
       {"--nats-nkey", kNkey, "--nats-nkey-seed-file", seed_file}},
  };
  for (const Case& one : cases) {
    SCOPED_TRACE(one.name);
    nats_ = std::make_unique<NatsServer>(
        nats_port_, dir_.Path(absl::StrCat("nats-", one.name)));
    ASSERT_TRUE(nats_->Start(one.server));
    daemon_ = StartSidecar(dir_.Path(absl::StrCat("log-", one.name)),
                           nats_->url(), one.daemon);
    ASSERT_NE(daemon_, nullptr);
    stub_ = v1::EventBusService::NewStub(grpc::CreateChannel(
        daemon_->address(), grpc::InsecureChannelCredentials()));
    Publish(5);
    ASSERT_TRUE(daemon_->AwaitLog("forward.nats: connected", absl::Seconds(20)))
        << daemon_->Log();
    daemon_->Signal(SIGTERM);
    EXPECT_EQ(daemon_->Wait(absl::Seconds(20)), 0) << daemon_->Log();
    EXPECT_THAT(daemon_->Log(),
                HasSubstr("forward.nats: drained through sequence 5"));
    nats_->Kill();
  }
}

TEST_F(ForwardTest, WrongCredentialsAreRetriedAndReported) {
  ASSERT_TRUE(nats_->Start({"--user", "eb", "--pass", "pw"}));
  StartDaemon({"--nats-user", "eb", "--nats-password", "wrong",
               "--metrics-address", "127.0.0.1:0"});
  Publish(5);
  ASSERT_TRUE(
      daemon_->AwaitLog("forward.nats: cannot connect", absl::Seconds(20)))
      << daemon_->Log();
  EXPECT_THAT(daemon_->Log(), HasSubstr("Authorization Violation"));
  EXPECT_THAT(daemon_->Log(), HasSubstr("retrying in"));
  const std::string page = HttpGet(MetricsAddress(*daemon_), "/metrics");
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_connected 0\n"));
  EXPECT_THAT(page, HasSubstr("\neventbus_forward_behind_events 5\n"));
  // The daemon still serves.
  Publish(5);
}

// deploy/fleet/: three sidecars into one R3 stream of a 3-node cluster
// started from deploy/fleet/nats.conf (its addresses overridden for
// loopback), and the stream's leader SIGKILLed mid-stream. Each event is
// there once; a sidecar's events stay in order except around the failure
// (README: Beyond one machine).
TEST_F(ForwardTest, AFleetLosesAndDoublesNothingWhenTheStreamLeaderDies) {
  constexpr int kNodes = 3;
  constexpr int kEach = 4000;
  std::vector<int> client_ports;
  std::vector<int> cluster_ports;
  std::vector<std::string> urls;
  std::string routes;
  for (int i = 0; i < kNodes; ++i) {
    client_ports.push_back(FreePort());
    cluster_ports.push_back(FreePort());
    urls.push_back(absl::StrCat("nats://127.0.0.1:", client_ports.back()));
    absl::StrAppend(&routes, i == 0 ? "" : ",",
                    "nats://127.0.0.1:", cluster_ports.back());
  }
  std::vector<std::unique_ptr<NatsServer>> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(std::make_unique<NatsServer>(
        client_ports[i], dir_.Path(absl::StrCat("node-", i))));
    ASSERT_TRUE(nodes.back()->Start(
        {"-c", EVENTBUS_SOURCE_DIR "/deploy/fleet/nats.conf", "--name",
         absl::StrCat("node-", i), "-m", absl::StrCat(FreePort()), "--cluster",
         absl::StrCat("nats://127.0.0.1:", cluster_ports[i]), "--routes",
         routes}));
  }
  const std::string all_urls = absl::StrJoin(urls, ",");
  std::vector<std::unique_ptr<DaemonProcess>> sidecars;
  for (int i = 0; i < 3; ++i) {
    sidecars.push_back(
        StartSidecar(dir_.Path(absl::StrCat("log-", i)), all_urls,
                     {"--nats-replicas", "3", "--nats-max-in-flight", "64"}));
    ASSERT_NE(sidecars.back(), nullptr);
  }
  std::vector<std::thread> publishers;
  // Joined on every way out: a failed ASSERT below returns early.
  const absl::Cleanup join = [&publishers] {
    for (std::thread& publisher : publishers) {
      if (publisher.joinable()) publisher.join();
    }
  };
  for (int i = 0; i < 3; ++i) {
    publishers.emplace_back([&sidecars, i] {
      auto stub = v1::EventBusService::NewStub(grpc::CreateChannel(
          sidecars[i]->address(), grpc::InsecureChannelCredentials()));
      for (int part = 0; part < 4; ++part) {
        Publish(stub.get(), kEach / 4, absl::StrCat("opsml-", i));
      }
    });
  }
  // The stream exists and takes events: find its leader.
  ASSERT_TRUE(ConnectReader(urls[0]));
  std::string leader;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, reader_js_, kStream, nullptr, nullptr) ==
        NATS_OK) {
      const uint64_t messages = info->State.Msgs;
      if (info->Cluster != nullptr && info->Cluster->Leader != nullptr) {
        leader = info->Cluster->Leader;
      }
      jsStreamInfo_Destroy(info);
      if (messages >= 1000 && !leader.empty()) break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_FALSE(leader.empty()) << sidecars[0]->Log();
  const int killed = leader.back() - '0';
  ASSERT_GE(killed, 0);
  ASSERT_LT(killed, kNodes);
  nodes[killed]->Kill();
  // Read from a survivor.
  TearDown();
  reader_ = nullptr;
  reader_js_ = nullptr;
  ASSERT_TRUE(ConnectReader(urls[(killed + 1) % kNodes]));
  for (std::thread& publisher : publishers) publisher.join();
  uint64_t now = 0;
  const absl::Time until = absl::Now() + absl::Seconds(90);
  while ((now = StreamMessages()) < 3 * kEach && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(now, 3u * kEach) << sidecars[0]->Log();
  std::map<std::string, std::vector<uint64_t>> by_instance;
  for (const Forwarded& one : ReadStream()) {
    by_instance[one.instance].push_back(one.eventbus_sequence);
  }
  ASSERT_EQ(by_instance.size(), 3u);
  for (auto& [instance, sequences] : by_instance) {
    ASSERT_EQ(sequences.size(), static_cast<size_t>(kEach)) << instance;
    // A resent range can land after events the new leader stored first,
    // never further than max_in_flight (64) from its place.
    for (int i = 0; i < kEach; ++i) {
      const int64_t displaced =
          static_cast<int64_t>(sequences[i]) - static_cast<int64_t>(i + 1);
      EXPECT_LE(std::abs(displaced), 64) << instance << " at " << i;
    }
    std::sort(sequences.begin(), sequences.end());
    for (int i = 0; i < kEach; ++i) {
      ASSERT_EQ(sequences[i], static_cast<uint64_t>(i + 1)) << instance;
    }
  }
  // At least one sidecar lost its connection or its acks, and went on.
  int retried = 0;
  for (const auto& sidecar : sidecars) {
    retried += sidecar->Log().find("retrying in") != std::string::npos;
  }
  EXPECT_GT(retried, 0) << "the leader's death touched no sidecar";
}

TEST_F(ForwardTest, EventbusSubscribeNatsPrintsTheMergedStream) {
  ASSERT_TRUE(nats_->Start());
  ASSERT_TRUE(ConnectReader());
  // Two sidecars into one stream, one of them forwarding JSON.
  auto proto = StartSidecar(dir_.Path("log-proto"), nats_->url(), {});
  auto json = StartSidecar(dir_.Path("log-json"), nats_->url(),
                           {"--nats-encoding", "json"});
  ASSERT_NE(proto, nullptr);
  ASSERT_NE(json, nullptr);
  for (const auto& [sidecar, source] : {std::pair{proto.get(), "opsml-proto"},
                                        std::pair{json.get(), "opsml-json"}}) {
    auto stub = v1::EventBusService::NewStub(grpc::CreateChannel(
        sidecar->address(), grpc::InsecureChannelCredentials()));
    Publish(stub.get(), 10, source);
  }
  ASSERT_TRUE(AwaitMessages(20, absl::Seconds(30)));
  const eventbus::testing::CommandResult read = eventbus::testing::RunCommand(
      {EVENTBUS_CLI_PATH, "subscribe", "--nats", nats_->url(),
       "--from-earliest", "--count", "20"});
  ASSERT_EQ(read.exit_status, 0) << read.err;
  std::map<std::string, std::vector<uint64_t>> by_source;
  for (absl::string_view line :
       absl::StrSplit(read.out, '\n', absl::SkipEmpty())) {
    v1::Event event;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(std::string(line), &event)
            .ok())
        << line;
    by_source[event.source()].push_back(event.sequence());
  }
  const std::vector<uint64_t> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(by_source["opsml-proto"], ten) << read.out;
  EXPECT_EQ(by_source["opsml-json"], ten) << read.out;
  // A stream that is not there, and a NATS that is not there.
  eventbus::testing::CommandResult missing =
      eventbus::testing::RunCommand({EVENTBUS_CLI_PATH, "subscribe", "--nats",
                                     nats_->url(), "--nats-stream", "NOPE"});
  EXPECT_EQ(missing.exit_status, 64 + 9) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("no stream NOPE"));
  missing = eventbus::testing::RunCommand(
      {EVENTBUS_CLI_PATH, "subscribe", "--nats",
       absl::StrCat("nats://127.0.0.1:", FreePort())});
  EXPECT_EQ(missing.exit_status, 64 + 14) << missing.err;
  // The bus's own options are refused with it.
  missing =
      eventbus::testing::RunCommand({EVENTBUS_CLI_PATH, "subscribe", "--nats",
                                     nats_->url(), "--from-sequence", "3"});
  EXPECT_EQ(missing.exit_status, 2) << missing.err;
}

}  // namespace
}  // namespace eventbus

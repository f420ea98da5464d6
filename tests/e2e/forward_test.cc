// Forwarding into NATS JetStream, end to end: a real nats-server -js (the
// Debian package) and a real eventbusd on loopback ports, each with its own
// directory. Events go in through gRPC PublishStream; the stream is read
// back with nats.c (js_GetMsg), message by message, with its headers.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

  // Starts it and waits until it is ready.
  ::testing::AssertionResult Start() {
    auto process =
        ChildProcess::Start({kNatsServer, "-js", "-a", "127.0.0.1", "-p",
                             absl::StrCat(port_), "-sd", store_});
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
  v1::Event event;
};

class ForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats_port_ = FreePort();
    ASSERT_GT(nats_port_, 0);
    nats_ = std::make_unique<NatsServer>(nats_port_, dir_.Path("nats"));
  }

  void StartDaemon(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {
        "--address",       "127.0.0.1:0", "--storage-path", dir_.Path("log"),
        "--storage-fsync", "10ms",        "--nats-url",     nats_->url()};
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto daemon = DaemonProcess::Start(flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    stub_ = v1::EventBusService::NewStub(grpc::CreateChannel(
        daemon_->address(), grpc::InsecureChannelCredentials()));
  }

  // Publishes `count` events through one PublishStream, in requests of 500.
  void Publish(int count, const std::string& source = "opsml") {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(120));
    auto stream = stub_->PublishStream(&context);
    int sent = 0;
    while (sent < count) {
      v1::PublishStreamRequest request;
      for (int i = 0; i < 500 && sent < count; ++i, ++sent) {
        v1::Event* event = request.add_events();
        event->set_source(source);
        event->mutable_audit()->set_username("alice");
        event->mutable_audit()->set_operation(v1::OPERATION_READ);
        event->mutable_audit()->set_resource_id(absl::StrCat("r-", sent));
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

  // Connects a reader of the stream.
  ::testing::AssertionResult ConnectReader() {
    natsStatus s = natsConnection_ConnectTo(&reader_, nats_->url().c_str());
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
      EXPECT_TRUE(forwarded.event.ParseFromArray(natsMsg_GetData(msg),
                                                 natsMsg_GetDataLength(msg)));
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

}  // namespace
}  // namespace eventbus

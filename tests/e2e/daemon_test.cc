// The eventbusd daemon end to end: health, reflection, drain on SIGTERM,
// unix sockets and start-up failures, against the real binary.
#include "server/daemon/daemon.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/grpc_clients.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::DaemonProcess;
using ::eventbus::testing::FullAuditEvent;
using ::eventbus::testing::TempDir;
using ::eventbus::testing::TestSubscriber;
using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

// eventbusd's exit status, or -1000 when it could not run or did not exit.
int RunToExit(const std::vector<std::string>& args, std::string* log) {
  absl::StatusOr<int> status = DaemonProcess::Run(args, log);
  return status.ok() ? *status : -1000;
}

class DaemonTest : public ::testing::Test {
 protected:
  void StartDaemon(std::vector<std::string> flags) {
    auto daemon = DaemonProcess::Start(flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    channel_ = grpc::CreateChannel(daemon_->address(),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::EventBusService::NewStub(channel_);
  }

  grpc::Status Publish(v1::PublishResponse* response) {
    v1::PublishRequest request;
    *request.mutable_event() = FullAuditEvent();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    return stub_->Publish(&context, request, response);
  }

  HealthCheckResponse::ServingStatus Health(const std::string& service) {
    auto health = Health::NewStub(channel_);
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    grpc::Status status = health->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  // This test's files (a unix socket, configs); declared before daemon_, so
  // the daemon stops first.
  const TempDir temp_{"eventbus-daemon"};
  std::unique_ptr<DaemonProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventBusService::Stub> stub_;
};

TEST_F(DaemonTest, HealthIsServingForTheServerAndTheService) {
  StartDaemon({"--address", "127.0.0.1:0"});
  EXPECT_EQ(Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(Daemon::kServiceName), HealthCheckResponse::SERVING);
}

TEST_F(DaemonTest, ReflectionListsTheService) {
  StartDaemon({"--address", "127.0.0.1:0"});
  namespace reflection = ::grpc::reflection::v1alpha;
  auto stub = reflection::ServerReflection::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest request;
  request.set_list_services("*");
  ASSERT_TRUE(stream->Write(request));
  reflection::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.push_back(service.name());
  }
  EXPECT_THAT(services, ::testing::Contains(Daemon::kServiceName));

  request.set_file_containing_symbol(Daemon::kServiceName);
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_GT(response.file_descriptor_response().file_descriptor_proto_size(),
            0);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(DaemonTest, SigtermDeliversEveryAcceptedEventThenEndsStreamsOk) {
  StartDaemon({"--address", "127.0.0.1:0"});
  TestSubscriber subscriber(*stub_, {});
  v1::PublishResponse response;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Publish(&response).ok());
  daemon_->Signal(SIGTERM);
  grpc::Status status = subscriber.ReadToEnd();
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(subscriber.events().size(), 100u);
  EXPECT_EQ(subscriber.events().back().sequence(), 100u);
  EXPECT_EQ(daemon_->Wait(absl::Seconds(10)), 0);
}

TEST_F(DaemonTest, AnOpenPublishStreamDoesNotHoldTheDrainOpen) {
  // A publisher that keeps its stream open after its last event: once the
  // subscribers have drained, it gets a moment for its acknowledgements,
  // not the rest of a long drain_timeout.
  StartDaemon({"--address", "127.0.0.1:0", "--drain-timeout", "60s"});
  TestSubscriber subscriber(*stub_, {});
  grpc::ClientContext context;
  auto stream = stub_->PublishStream(&context);
  v1::PublishStreamRequest request;
  *request.mutable_event() = FullAuditEvent();
  ASSERT_TRUE(stream->Write(request));
  v1::PublishStreamResponse acks;
  ASSERT_TRUE(stream->Read(&acks));
  ASSERT_EQ(acks.acks_size(), 1);
  EXPECT_EQ(acks.acks(0).sequence(), 1u);

  const absl::Time signalled = absl::Now();
  daemon_->Signal(SIGTERM);
  grpc::Status status = subscriber.ReadToEnd();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(subscriber.events().size(), 1u);
  // The stream ends when the grace is over; well before the 60 s.
  EXPECT_FALSE(stream->Read(&acks));
  EXPECT_FALSE(stream->Finish().ok());
  EXPECT_EQ(daemon_->Wait(absl::Seconds(20)), 0);
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(20));
}

TEST_F(DaemonTest, WhileDrainingPublishIsUnavailableAndHealthNotServing) {
  StartDaemon({"--address", "127.0.0.1:0", "--drain-timeout", "3s"});
  // A reader that never reads and is far behind holds the drain open.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stalled_stub = v1::EventBusService::NewStub(grpc::CreateCustomChannel(
      daemon_->address(), grpc::InsecureChannelCredentials(), args));
  TestSubscriber stalled(*stalled_stub, {});
  v1::PublishRequest big;
  *big.mutable_event() = FullAuditEvent();
  big.mutable_event()->mutable_audit()->set_metadata(std::string(8000, 'm'));
  for (int i = 0; i < 100; ++i) {
    v1::PublishResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Publish(&context, big, &response).ok());
  }
  daemon_->Signal(SIGTERM);
  ASSERT_TRUE(daemon_->AwaitLog("draining", absl::Seconds(10)));

  v1::PublishResponse response;
  grpc::Status status = Publish(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("draining"));
  EXPECT_EQ(Health(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(daemon_->Wait(absl::Seconds(15)), 0);
  EXPECT_THAT(daemon_->Log(), HasSubstr("drain timeout"));
}

TEST_F(DaemonTest, ServesOnAUnixSocket) {
  const std::string path = temp_.Path("eventbus.sock");
  StartDaemon({"--address", "unix:" + path});
  EXPECT_EQ(daemon_->address(), "unix:" + path);
  TestSubscriber subscriber(*stub_, {});
  v1::PublishResponse response;
  ASSERT_TRUE(Publish(&response).ok());
  ASSERT_TRUE(subscriber.ReadEvents(1));
  EXPECT_EQ(subscriber.events()[0].sequence(), 1u);
}

TEST_F(DaemonTest, AddressInUseExitsOne) {
  StartDaemon({"--address", "127.0.0.1:0"});
  std::string log;
  EXPECT_EQ(RunToExit({"--address", daemon_->address()}, &log), 1);
  EXPECT_THAT(
      log, HasSubstr("server.address: cannot listen on " + daemon_->address() +
                     ": Address already in use (EADDRINUSE)"));
}

TEST_F(DaemonTest, MissingConfigFileExitsTwo) {
  std::string log;
  EXPECT_EQ(RunToExit({"--config", "/nonexistent/eventbus.yaml"}, &log), 2);
  EXPECT_THAT(log, HasSubstr("cannot read config file "
                             "/nonexistent/eventbus.yaml"));
}

TEST_F(DaemonTest, BadConfigValueExitsTwoNamingKeyAndLine) {
  const std::string path =
      temp_.WriteFile("eventbus.yaml",
                      "server:\n  address: 127.0.0.1:0\nbus:\n  capacity: 0\n");
  std::string log;
  EXPECT_EQ(RunToExit({"--config", path}, &log), 2);
  EXPECT_THAT(log, HasSubstr(path + ":4: bus.capacity: must be between 1 and "
                                    "16777216, got 0"));
}

TEST_F(DaemonTest, UnknownFlagExitsTwo) {
  std::string log;
  EXPECT_EQ(RunToExit({"--capacty", "5"}, &log), 2);
  EXPECT_THAT(log, HasSubstr("unknown flag --capacty"));
}

TEST_F(DaemonTest, ExampleConfigStartsTheDaemon) {
  StartDaemon({"--config", EVENTBUS_SOURCE_DIR "/config/eventbus.yaml",
               "--address", "127.0.0.1:0"});
  v1::PublishResponse response;
  EXPECT_TRUE(Publish(&response).ok());
}

}  // namespace
}  // namespace eventbus

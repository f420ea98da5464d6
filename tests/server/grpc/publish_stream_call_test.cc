// PublishStreamCall directly, behind a real in-process gRPC server on a
// free loopback port: a service whose PublishStream is only these calls, on
// one IoThreads queue, over a Bus and an Admission the test builds.
#include "server/grpc/publish_stream_call.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eventbus/v1/eventbus.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bus/bus.h"
#include "server/security/admission.h"
#include "tests/server/bus/bus_test_util.h"

namespace eventbus {
namespace {

using ::eventbus::testing::AuditEvent;
using ::testing::HasSubstr;

class PublishStreamOnly final
    : public v1::EventBusService::WithRawMethod_PublishStream<
          v1::EventBusService::Service> {
 public:
  PublishStreamOnly(Bus bus, Admission admission)
      : bus_(std::move(bus)), admission_(std::move(admission)) {}

  void StartStreaming(IoThreads* io) {
    shared_ = PublishStreamCall::Shared{
        .request =
            [this](grpc::ServerContext* context,
                   PublishStreamCall::Stream* stream,
                   grpc::ServerCompletionQueue* queue, void* tag) {
              RequestPublishStream(context, stream, queue, queue, tag);
            },
        .bus = &bus_,
        .admission = &admission_,
        .refusals = &refusals_,
        .metrics = &metrics_,
        .instance_id = "test",
        .io = io};
    for (int i = 0; i < io->size(); ++i) PublishStreamCall::Await(&shared_, i);
  }

 private:
  const Bus bus_;
  const Admission admission_;
  RefusalLog refusals_;
  ServiceMetrics metrics_;
  PublishStreamCall::Shared shared_;
};

class PublishStreamCallTest : public ::testing::Test {
 protected:
  void Start(RequestLimits limits = {}, BusOptions bus_options = {}) {
    bus_ = *Bus::Create(bus_options);
    service_ = std::make_unique<PublishStreamOnly>(
        *bus_, Admission(nullptr, nullptr, limits));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    io_ = std::make_unique<IoThreads>(&builder, 1);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    io_->Start();
    service_->StartStreaming(io_.get());
    stub_ = v1::EventBusService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
    if (io_) io_->Stop();
  }

  // Sends `requests`, half-closes, and returns the acknowledged sequences
  // and the final status.
  struct Outcome {
    std::vector<uint64_t> acked;
    grpc::Status status;
  };
  Outcome Exchange(const std::vector<v1::PublishStreamRequest>& requests) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    auto stream = stub_->PublishStream(&context);
    for (const auto& request : requests) {
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    Outcome outcome;
    v1::PublishStreamResponse response;
    while (stream->Read(&response)) {
      for (const auto& ack : response.acks()) {
        outcome.acked.push_back(ack.sequence());
      }
    }
    outcome.status = stream->Finish();
    return outcome;
  }

  static v1::PublishStreamRequest One(const v1::Event& event) {
    v1::PublishStreamRequest request;
    *request.mutable_event() = event;
    return request;
  }

  std::optional<Bus> bus_;
  std::unique_ptr<PublishStreamOnly> service_;
  std::unique_ptr<IoThreads> io_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::EventBusService::Stub> stub_;
};

TEST_F(PublishStreamCallTest, AcknowledgesSinglesAndBatchesInOrder) {
  Start();
  v1::PublishStreamRequest batch;
  for (int i = 0; i < 3; ++i) *batch.add_events() = AuditEvent();
  const Outcome outcome =
      Exchange({One(AuditEvent()), batch, One(AuditEvent())});
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.acked, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(bus_->next_sequence(), 6u);
}

TEST_F(PublishStreamCallTest, FirstRefusedEventEndsTheStreamWithItsStatus) {
  Start();
  v1::Event no_payload;
  no_payload.set_source("test");
  const Outcome outcome =
      Exchange({One(AuditEvent()), One(no_payload), One(AuditEvent())});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(outcome.status.error_message(), HasSubstr("no payload"));
  EXPECT_EQ(outcome.acked, (std::vector<uint64_t>{1}));
  // Nothing after the refused event was published.
  EXPECT_EQ(bus_->next_sequence(), 2u);
}

// A request that does not parse (here: a string that is not UTF-8, which
// the typed client encodes but the daemon's parser refuses) ends the stream
// with INVALID_ARGUMENT naming the request, wherever it comes: everything
// before it acknowledged, nothing after it published.
TEST_F(PublishStreamCallTest, UnparsableRequestEndsTheStreamNamingIt) {
  Start();
  v1::Event bad = AuditEvent();
  bad.set_source("bad \xff source");
  struct Case {
    std::vector<v1::PublishStreamRequest> requests;
    int bad_request;
    size_t acked;
  };
  const v1::PublishStreamRequest good = One(AuditEvent());
  const std::vector<Case> cases = {
      {{One(bad), good, good}, 1, 0},
      {{good, One(bad), good, good}, 2, 1},
      {{good, good, One(bad)}, 3, 2},
  };
  uint64_t published = 0;
  for (const Case& c : cases) {
    const Outcome outcome = Exchange(c.requests);
    EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(outcome.status.error_message(),
              absl::StrCat("request ", c.bad_request,
                           " of the stream is not a valid "
                           "eventbus.v1.PublishStreamRequest"));
    EXPECT_EQ(outcome.acked.size(), c.acked);
    published += c.acked;
    EXPECT_EQ(bus_->next_sequence(), published + 1);
  }
}

TEST_F(PublishStreamCallTest, AdmissionLimitsApplyToEachEvent) {
  Start({.max_attributes = 1});
  v1::Event two_attributes = AuditEvent();
  (*two_attributes.mutable_attributes())["a"] = "1";
  (*two_attributes.mutable_attributes())["b"] = "2";
  v1::PublishStreamRequest batch;
  *batch.add_events() = AuditEvent();
  *batch.add_events() = two_attributes;
  const Outcome outcome = Exchange({batch});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(outcome.status.error_message(),
              HasSubstr("limits.max_attributes"));
  EXPECT_EQ(outcome.acked, (std::vector<uint64_t>{1}));
}

TEST_F(PublishStreamCallTest, EmptyStreamEndsOk) {
  Start();
  const Outcome outcome = Exchange({});
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_TRUE(outcome.acked.empty());
}

TEST_F(PublishStreamCallTest, ClosedBusRefusesWithUnavailable) {
  Start();
  bus_->Close();
  const Outcome outcome = Exchange({One(AuditEvent())});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(outcome.acked.empty());
}

// A BLOCK subscriber that has not read the event the next publish would
// overwrite holds the stream (no thread waits); once it reads, the stream
// goes on. It gets every event without a lag, and every event is
// acknowledged in order.
TEST_F(PublishStreamCallTest, BlockSubscriberHoldsTheStreamUntilItReads) {
  constexpr uint64_t kCapacity = 4;
  constexpr uint64_t kEvents = 10;
  Start({}, {.capacity = kCapacity, .max_block = absl::Hours(1)});
  std::unique_ptr<Subscription> subscriber =
      *bus_->Subscribe({.overflow = Overflow::kBlock});
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto stream = stub_->PublishStream(&context);
  for (uint64_t i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(stream->Write(One(AuditEvent())));
  }
  ASSERT_TRUE(stream->WritesDone());
  std::vector<uint64_t> acked;
  v1::PublishStreamResponse response;
  while (acked.size() < kCapacity && stream->Read(&response)) {
    for (const auto& ack : response.acks()) acked.push_back(ack.sequence());
  }
  ASSERT_EQ(acked.size(), kCapacity);
  // The fifth event waits for the subscriber.
  EXPECT_EQ(bus_->next_sequence(), kCapacity + 1);
  std::vector<uint64_t> received;
  while (received.size() < kEvents) {
    ReadBatch batch;
    subscriber->Read(absl::Now() + absl::Seconds(30), {}, &batch);
    ASSERT_FALSE(batch.lag.has_value());
    ASSERT_FALSE(batch.empty()) << "no event within the deadline";
    for (const auto& event : batch.events) {
      received.push_back(event->sequence());
    }
  }
  while (stream->Read(&response)) {
    for (const auto& ack : response.acks()) acked.push_back(ack.sequence());
  }
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<uint64_t> all(kEvents);
  std::iota(all.begin(), all.end(), 1);
  EXPECT_EQ(acked, all);
  EXPECT_EQ(received, all);
}

}  // namespace
}  // namespace eventbus

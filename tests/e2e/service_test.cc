// EventBusService end to end: the real eventbusd on a free loopback port,
// real gRPC clients.

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "base/metadata.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/grpc_clients.h"

namespace eventbus {
namespace {

using ::eventbus::testing::DaemonProcess;
using ::eventbus::testing::FullAuditEvent;
using ::eventbus::testing::TestSubscriber;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

class EventBusServiceTest : public ::testing::Test {
 protected:
  void StartDaemon(std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"--address", "127.0.0.1:0"});
    auto daemon = DaemonProcess::Start(flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    stub_ = v1::EventBusService::NewStub(grpc::CreateChannel(
        daemon_->address(), grpc::InsecureChannelCredentials()));
  }
  void SetUp() override { StartDaemon(); }

  grpc::Status Publish(const v1::Event& event,
                       v1::PublishResponse* response = nullptr) {
    v1::PublishRequest request;
    *request.mutable_event() = event;
    v1::PublishResponse ignored;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    return stub_->Publish(&context, request, response ? response : &ignored);
  }
  uint64_t PublishOk(const v1::Event& event = FullAuditEvent()) {
    v1::PublishResponse response;
    grpc::Status status = Publish(event, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.sequence();
  }
  std::unique_ptr<TestSubscriber> Subscribe(
      const v1::SubscribeRequest& request = {}) {
    return std::make_unique<TestSubscriber>(*stub_, request);
  }
  static v1::SubscribeRequest FromSequence(uint64_t sequence) {
    v1::SubscribeRequest request;
    request.set_from_sequence(sequence);
    return request;
  }
  // The status a Subscribe with `request` ends with.
  grpc::Status SubscribeStatus(const v1::SubscribeRequest& request) {
    return Subscribe(request)->ReadToEnd();
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::EventBusService::Stub> stub_;
};

TEST_F(EventBusServiceTest, RoundTripKeepsEveryField) {
  auto subscriber = Subscribe();
  const v1::Event sent = FullAuditEvent();
  v1::PublishResponse response;
  ASSERT_TRUE(Publish(sent, &response).ok());
  EXPECT_EQ(response.sequence(), 1u);
  EXPECT_EQ(response.id(), "audit-1");
  EXPECT_EQ(response.subscribers(), 1u);

  ASSERT_TRUE(subscriber->ReadEvents(1));
  v1::Event received = subscriber->events()[0];
  EXPECT_EQ(received.sequence(), 1u);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  EXPECT_NEAR(received.publish_time().seconds(), now, 60);
  received.clear_sequence();
  received.clear_publish_time();
  EXPECT_TRUE(MessageDifferencer::Equals(received, sent))
      << received.DebugString();
}

TEST_F(EventBusServiceTest, BusAssignsIdSequenceAndTime) {
  auto subscriber = Subscribe();
  v1::Event event;
  event.mutable_space_name()->set_space("credit");
  event.mutable_space_name()->set_name("model");
  event.mutable_space_name()->set_registry_type(v1::REGISTRY_TYPE_MODEL);
  event.set_sequence(77);
  event.mutable_publish_time()->set_seconds(1);
  v1::PublishResponse response;
  ASSERT_TRUE(Publish(event, &response).ok());
  EXPECT_THAT(response.id(), ::testing::MatchesRegex("[0-9a-f-]{36}"));
  ASSERT_TRUE(subscriber->ReadEvents(1));
  const v1::Event& received = subscriber->events()[0];
  EXPECT_EQ(received.sequence(), 1u);
  EXPECT_GT(received.publish_time().seconds(), 1);
  EXPECT_EQ(received.id(), response.id());
  EXPECT_EQ(received.space_name().name(), "model");
}

TEST_F(EventBusServiceTest, PublishWithoutSubscribersSucceeds) {
  v1::PublishResponse response;
  ASSERT_TRUE(Publish(FullAuditEvent(), &response).ok());
  EXPECT_EQ(response.subscribers(), 0u);
}

TEST_F(EventBusServiceTest, ConcurrentPublishersGetGaplessOrderedSequences) {
  constexpr int kPerThread = 300;
  auto subscriber = Subscribe();
  std::vector<std::thread> publishers;
  for (int t = 0; t < 3; ++t) {
    publishers.emplace_back([this] {
      for (int i = 0; i < kPerThread; ++i) PublishOk();
    });
  }
  for (auto& thread : publishers) thread.join();
  ASSERT_TRUE(subscriber->ReadEvents(3 * kPerThread));
  EXPECT_TRUE(subscriber->lagged().empty());
  for (size_t i = 0; i < subscriber->events().size(); ++i) {
    ASSERT_EQ(subscriber->events()[i].sequence(), i + 1);
  }
}

TEST_F(EventBusServiceTest, SubscribeHeadersCarryTheInstance) {
  auto subscriber = Subscribe();
  const std::string instance = subscriber->Header(kInstanceMetadataKey);
  EXPECT_EQ(instance.size(), 36u);
  StartDaemon();
  EXPECT_NE(Subscribe()->Header(kInstanceMetadataKey), instance);
}

TEST_F(EventBusServiceTest, BadPublishesAreRejectedAndTheDaemonServesOn) {
  v1::PublishRequest empty_request;
  v1::PublishResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->Publish(&context, empty_request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "PublishRequest.event is required");

  status = Publish(v1::Event());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("no payload"));

  v1::Event bad_enum = FullAuditEvent();
  bad_enum.mutable_audit()->set_operation(static_cast<v1::Operation>(99));
  status = Publish(bad_enum);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      status.error_message(),
      "event.audit.operation: 99 is not a value of eventbus.v1.Operation");

  EXPECT_EQ(PublishOk(), 1u);  // rejected publishes consumed no sequence
}

TEST_F(EventBusServiceTest, OversizedEventNamesTheLimit) {
  StartDaemon({"--max-event-bytes", "1KiB"});
  v1::Event big = FullAuditEvent();
  big.mutable_audit()->set_metadata(std::string(2000, 'x'));
  grpc::Status status = Publish(big);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("over the limit bus.max_event_bytes = 1024"));
  EXPECT_EQ(PublishOk(), 1u);
}

TEST_F(EventBusServiceTest, BadSubscribesAreRejected) {
  grpc::Status status = SubscribeStatus(FromSequence(0));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "from_sequence must be >= 1 (sequences start at 1)");

  PublishOk();
  status = SubscribeStatus(FromSequence(3));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(status.error_message(),
            "from_sequence 3 is beyond the next sequence to be published, 2");

  v1::SubscribeRequest bad_filter;
  bad_filter.mutable_filter()->add_types(static_cast<v1::EventType>(7));
  status = SubscribeStatus(bad_filter);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("7 is not an event type"));

  EXPECT_EQ(PublishOk(), 2u);
}

TEST_F(EventBusServiceTest, MaxSubscribersIsResourceExhausted) {
  StartDaemon({"--max-subscribers", "1"});
  auto first = Subscribe();
  ASSERT_TRUE(first->ok());
  grpc::Status status = SubscribeStatus({});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("server.max_subscribers"));
}

TEST_F(EventBusServiceTest, StalledReaderIsToldExactlyWhatItLost) {
  StartDaemon({"--capacity", "16"});
  v1::SubscribeRequest request;
  request.set_name("stalled-reader");
  // Without BDP probing the client's receive window stays at its 64 KiB
  // default, so what the reader has not read is held by the bus, not gRPC.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stub = v1::EventBusService::NewStub(grpc::CreateCustomChannel(
      daemon_->address(), grpc::InsecureChannelCredentials(), args));
  auto stalled = std::make_unique<TestSubscriber>(*stub, request);
  // 2000 events of ~4 KiB: far more than the window and socket buffers.
  constexpr uint64_t kEvents = 2000;
  v1::Event event = FullAuditEvent();
  event.mutable_audit()->set_metadata(std::string(4000, 'm'));
  for (uint64_t i = 0; i < kEvents; ++i) PublishOk(event);

  // Read until the last sequence; lag notices and events must tile 1..N.
  uint64_t next = 1;
  uint64_t missed = 0;
  while (next <= kEvents) {
    const size_t before = stalled->events().size();
    const size_t lagged_before = stalled->lagged().size();
    ASSERT_TRUE(stalled->ReadEvents(before + 1));
    for (size_t i = lagged_before; i < stalled->lagged().size(); ++i) {
      const v1::Lagged& lag = stalled->lagged()[i];
      ASSERT_EQ(lag.first_sequence(), next);
      ASSERT_EQ(lag.missed(), lag.last_sequence() - lag.first_sequence() + 1);
      missed += lag.missed();
      next = lag.last_sequence() + 1;
    }
    for (size_t i = before; i < stalled->events().size(); ++i) {
      ASSERT_EQ(stalled->events()[i].sequence(), next);
      ++next;
    }
  }
  EXPECT_GT(missed, 0u);
  EXPECT_EQ(stalled->events().size() + missed, kEvents);
  EXPECT_TRUE(
      daemon_->AwaitLog("subscriber 'stalled-reader'", absl::Seconds(5)));
}

TEST_F(EventBusServiceTest, FromEarliestAndFromSequenceResume) {
  for (int i = 0; i < 5; ++i) PublishOk();
  v1::SubscribeRequest earliest;
  earliest.set_from_earliest(true);
  auto all = Subscribe(earliest);
  ASSERT_TRUE(all->ReadEvents(5));
  EXPECT_EQ(all->events()[0].sequence(), 1u);

  EXPECT_EQ(all->Header(kStartSequenceMetadataKey), "1");
  EXPECT_EQ(Subscribe()->Header(kStartSequenceMetadataKey), "6");

  auto resumed = Subscribe(FromSequence(4));
  ASSERT_TRUE(resumed->ReadEvents(2));
  EXPECT_EQ(resumed->events()[0].sequence(), 4u);
  EXPECT_EQ(resumed->events()[1].sequence(), 5u);
  EXPECT_TRUE(resumed->lagged().empty());
}

TEST_F(EventBusServiceTest, FromSequenceNoLongerRetainedStartsWithLagged) {
  StartDaemon({"--capacity", "4"});
  for (int i = 0; i < 10; ++i) PublishOk();
  auto resumed = Subscribe(FromSequence(2));
  ASSERT_TRUE(resumed->ReadEvents(4));
  ASSERT_EQ(resumed->lagged().size(), 1u);
  EXPECT_EQ(resumed->lagged()[0].first_sequence(), 2u);
  EXPECT_EQ(resumed->lagged()[0].last_sequence(), 6u);
  EXPECT_EQ(resumed->lagged()[0].missed(), 5u);
  EXPECT_EQ(resumed->events()[0].sequence(), 7u);
}

TEST_F(EventBusServiceTest, FiltersByTypeAndAttributes) {
  v1::SubscribeRequest by_type;
  by_type.mutable_filter()->add_types(v1::EVENT_TYPE_SPACE_NAME);
  auto space_names = Subscribe(by_type);
  v1::SubscribeRequest by_attribute;
  (*by_attribute.mutable_filter()->mutable_attributes())["env"] = "dev";
  auto dev = Subscribe(by_attribute);

  v1::Event space_name;
  space_name.mutable_space_name()->set_space("s");
  PublishOk(FullAuditEvent());  // 1: audit, env=prod
  PublishOk(space_name);        // 2: space_name, no attributes
  v1::Event dev_audit = FullAuditEvent();
  (*dev_audit.mutable_attributes())["env"] = "dev";
  PublishOk(dev_audit);   // 3: audit, env=dev
  PublishOk(space_name);  // 4

  ASSERT_TRUE(space_names->ReadEvents(2));
  EXPECT_EQ(space_names->events()[0].sequence(), 2u);
  EXPECT_EQ(space_names->events()[1].sequence(), 4u);
  ASSERT_TRUE(dev->ReadEvents(1));
  EXPECT_EQ(dev->events()[0].sequence(), 3u);
}

TEST_F(EventBusServiceTest, CancelledSubscriberLeavesWithinOneSecond) {
  auto subscriber = Subscribe();
  v1::PublishResponse response;
  ASSERT_TRUE(Publish(FullAuditEvent(), &response).ok());
  ASSERT_EQ(response.subscribers(), 1u);
  subscriber->Cancel();
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  do {
    ASSERT_TRUE(Publish(FullAuditEvent(), &response).ok());
  } while (response.subscribers() != 0 && absl::Now() < deadline);
  EXPECT_EQ(response.subscribers(), 0u);
}

// Writes `events` on one PublishStream while reading acks concurrently;
// returns the acks and the final status.
// Publishes `events` on one PublishStream, `batch` per request (1: in
// `event`, more: in `events`); returns the acks and the final status.
std::pair<std::vector<v1::PublishResponse>, grpc::Status> PublishStream(
    v1::EventBusService::Stub& stub, const std::vector<v1::Event>& events,
    size_t batch = 1) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto stream = stub.PublishStream(&context);
  std::thread writer([&] {
    for (size_t i = 0; i < events.size(); i += batch) {
      v1::PublishStreamRequest request;
      if (batch == 1) {
        *request.mutable_event() = events[i];
      } else {
        for (size_t j = i; j < std::min(events.size(), i + batch); ++j) {
          *request.add_events() = events[j];
        }
      }
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  std::vector<v1::PublishResponse> acks;
  v1::PublishStreamResponse response;
  while (stream->Read(&response)) {
    acks.insert(acks.end(), response.acks().begin(), response.acks().end());
  }
  writer.join();
  return {std::move(acks), stream->Finish()};
}

// The ring holds every event these tests publish, so that a subscriber slowed
// by a loaded machine is never lapped: they check acks and order, not lag.
constexpr char kRingForAllEvents[] = "16384";

TEST_F(EventBusServiceTest, PublishStreamAcknowledgesEveryEventInOrder) {
  StartDaemon({"--capacity", kRingForAllEvents});
  auto subscriber = Subscribe();
  std::vector<v1::Event> events(10000, FullAuditEvent());
  auto [acks, status] = PublishStream(*stub_, events);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(acks.size(), events.size());
  for (size_t i = 0; i < acks.size(); ++i) {
    ASSERT_EQ(acks[i].sequence(), i + 1);
    ASSERT_EQ(acks[i].id(), "audit-1");
  }
  ASSERT_TRUE(subscriber->ReadEvents(events.size()));
  EXPECT_EQ(subscriber->events().back().sequence(), events.size());
}

TEST_F(EventBusServiceTest, PublishStreamEndsAtTheFirstRejectedEvent) {
  std::vector<v1::Event> events(5, FullAuditEvent());
  events[3].clear_audit();  // no payload
  auto [acks, status] = PublishStream(*stub_, events);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("no payload"));
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[2].sequence(), 3u);
  EXPECT_EQ(PublishOk(), 4u);  // nothing after the rejected event was taken
}

TEST_F(EventBusServiceTest, PublishStreamBatchesAreAcknowledgedPerEvent) {
  StartDaemon({"--capacity", kRingForAllEvents});
  auto subscriber = Subscribe();
  std::vector<v1::Event> events(1037, FullAuditEvent());
  auto [acks, status] = PublishStream(*stub_, events, /*batch=*/100);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(acks.size(), events.size());
  for (size_t i = 0; i < acks.size(); ++i) {
    ASSERT_EQ(acks[i].sequence(), i + 1);
  }
  ASSERT_TRUE(subscriber->ReadEvents(events.size()));
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(subscriber->events()[i].sequence(), i + 1);
  }
}

TEST_F(EventBusServiceTest, PublishStreamBatchStopsAtTheFirstRejectedEvent) {
  std::vector<v1::Event> events(5, FullAuditEvent());
  events[3].clear_audit();  // no payload
  auto [acks, status] = PublishStream(*stub_, events, /*batch=*/5);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("no payload"));
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(PublishOk(), 4u);  // the event after it in the batch was not
}

TEST_F(EventBusServiceTest, PublishStreamRequestNeedsEventOrEvents) {
  for (const bool both : {false, true}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    auto stream = stub_->PublishStream(&context);
    v1::PublishStreamRequest request;
    if (both) {
      *request.mutable_event() = FullAuditEvent();
      *request.add_events() = FullAuditEvent();
    }
    stream->Write(request);
    stream->WritesDone();
    v1::PublishStreamResponse response;
    while (stream->Read(&response)) {
    }
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(),
                HasSubstr(both ? "both event and events" : "is required"));
  }
  EXPECT_EQ(PublishOk(), 1u);
}

TEST_F(EventBusServiceTest, KilledSubscriberLeavesWithinOneSecond) {
  // A separate client process, killed: its connection closes as a crashed
  // client's does.
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t client = fork();
  if (client == 0) {
    dup2(out[1], STDOUT_FILENO);
    execl(HANGING_SUBSCRIBER_PATH, "hanging_subscriber",
          daemon_->address().c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  char line[16] = {};
  ASSERT_GT(read(out[0], line, sizeof(line) - 1), 0);  // "subscribed"
  close(out[0]);
  v1::PublishResponse response;
  ASSERT_TRUE(Publish(FullAuditEvent(), &response).ok());
  ASSERT_EQ(response.subscribers(), 1u);

  kill(client, SIGKILL);
  waitpid(client, nullptr, 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  do {
    ASSERT_TRUE(Publish(FullAuditEvent(), &response).ok());
  } while (response.subscribers() != 0 && absl::Now() < deadline);
  EXPECT_EQ(response.subscribers(), 0u);
}

}  // namespace
}  // namespace eventbus

// fault_peer MODE ADDRESS [STREAMS]: a small client process that the kill
// scenario starts and SIGKILLs at a random moment, or freezes with SIGSTOP.
// It dies with its parent. It prints "ready" on stdout once its streams are
// open, then works until killed:
//   subscribe   one Subscribe stream, read as fast as possible
//   stall       STREAMS Subscribe streams (default 4), never read
//   publish     one PublishStream, writing events and reading acks
//   unary       Publish in a loop
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "eventbus/v1/eventbus.grpc.pb.h"

namespace {

using eventbus::v1::EventBusService;

void Ready() {
  std::printf("ready\n");
  std::fflush(stdout);
}

eventbus::v1::Event Event() {
  eventbus::v1::Event event;
  event.set_source("fault-peer");
  event.mutable_audit()->set_username("mallory");
  event.mutable_audit()->set_operation(eventbus::v1::OPERATION_WRITE);
  return event;
}

int Subscribe(EventBusService::Stub& stub) {
  grpc::ClientContext context;
  auto reader = stub.Subscribe(&context, eventbus::v1::SubscribeRequest());
  reader->WaitForInitialMetadata();
  Ready();
  eventbus::v1::SubscribeResponse response;
  while (reader->Read(&response)) {
  }
  return 1;
}

int Stall(EventBusService::Stub& stub, int streams) {
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<
      std::unique_ptr<grpc::ClientReader<eventbus::v1::SubscribeResponse>>>
      readers;
  for (int i = 0; i < streams; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(stub.Subscribe(contexts.back().get(),
                                     eventbus::v1::SubscribeRequest()));
    readers.back()->WaitForInitialMetadata();
  }
  Ready();
  while (true) pause();
}

int Publish(EventBusService::Stub& stub) {
  grpc::ClientContext context;
  auto stream = stub.PublishStream(&context);
  std::thread acks([&] {
    eventbus::v1::PublishStreamResponse response;
    bool first = true;
    while (stream->Read(&response)) {
      if (first) Ready();
      first = false;
    }
  });
  eventbus::v1::PublishStreamRequest request;
  *request.mutable_event() = Event();
  while (stream->Write(request)) {
  }
  acks.join();
  return 1;
}

int Unary(EventBusService::Stub& stub) {
  eventbus::v1::PublishRequest request;
  *request.mutable_event() = Event();
  for (bool first = true;; first = false) {
    grpc::ClientContext context;
    eventbus::v1::PublishResponse response;
    if (!stub.Publish(&context, request, &response).ok()) return 1;
    if (first) Ready();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: fault_peer subscribe|stall|publish|unary ADDRESS "
                 "[STREAMS]\n");
    return 2;
  }
  // Dies with the scenario that started it, even when that one is killed.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1;
  const std::string mode = argv[1];
  auto stub = EventBusService::NewStub(
      grpc::CreateChannel(argv[2], grpc::InsecureChannelCredentials()));
  if (mode == "subscribe") return Subscribe(*stub);
  if (mode == "stall") return Stall(*stub, argc > 3 ? std::atoi(argv[3]) : 4);
  if (mode == "publish") return Publish(*stub);
  if (mode == "unary") return Unary(*stub);
  std::fprintf(stderr, "fault_peer: unknown mode %s\n", mode.c_str());
  return 2;
}

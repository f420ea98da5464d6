// hanging_subscriber ADDRESS: opens a Subscribe stream, prints "subscribed"
// once its headers arrived, then never reads. Tests kill it to cut a
// connection the way a crashed client does.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>

#include "eventbus/v1/eventbus.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: hanging_subscriber ADDRESS\n");
    return 2;
  }
  auto stub = eventbus::v1::EventBusService::NewStub(
      grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto reader = stub->Subscribe(&context, eventbus::v1::SubscribeRequest());
  reader->WaitForInitialMetadata();
  std::printf("subscribed\n");
  std::fflush(stdout);
  pause();
  return 0;
}

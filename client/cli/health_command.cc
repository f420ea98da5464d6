#include "client/cli/health_command.h"

#include <grpcpp/grpcpp.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace eventbus::cli {

HealthCommand::HealthCommand(CLI::App* parent)
    : Command(parent, "health",
              "print SERVING or NOT_SERVING; exit 0 only when SERVING",
              "Asks grpc.health.v1.Health/Check and prints the status.") {
  app()
      ->add_option("--service", service_,
                   "service to check (default \"\": the whole server)")
      ->type_name("NAME");
}

int HealthCommand::Run(const Connection& connection) {
  using grpc::health::v1::HealthCheckResponse;
  auto stub = grpc::health::v1::Health::NewStub(connection.channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service_);
  HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + connection.timeout));
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return RpcFailure("health check", client::FromGrpc(status));
  PrintLine(HealthCheckResponse::ServingStatus_Name(response.status()));
  return response.status() == HealthCheckResponse::SERVING ? 0 : 1;
}

}  // namespace eventbus::cli

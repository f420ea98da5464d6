// Small gRPC client helpers for end-to-end tests against a DaemonProcess.
#ifndef EVENTBUS_TESTS_TESTING_GRPC_CLIENTS_H_
#define EVENTBUS_TESTS_TESTING_GRPC_CLIENTS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::testing {

// One Subscribe stream, opened and waited for until its headers arrived (so
// the daemon has registered it). Every call is bounded by `timeout`.
class TestSubscriber {
 public:
  TestSubscriber(v1::EventBusService::Stub& stub,
                 const v1::SubscribeRequest& request,
                 absl::Duration timeout = absl::Seconds(30));

  // The status of the stream if it ended before its headers came.
  bool ok() const { return reader_ != nullptr; }
  // Initial metadata value of `key` ("" when absent).
  std::string Header(const std::string& key) const;

  // Reads responses until `events` events arrived (lag notices are kept in
  // lagged()). Returns false when the stream ends first.
  bool ReadEvents(size_t count);
  // Reads until the stream ends, then returns its status.
  grpc::Status ReadToEnd();
  void Cancel() { context_.TryCancel(); }

  std::vector<v1::Event>& events() { return events_; }
  std::vector<v1::Lagged>& lagged() { return lagged_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader_;
  std::vector<v1::Event> events_;
  std::vector<v1::Lagged> lagged_;
};

// An audit event with every field set.
v1::Event FullAuditEvent();

}  // namespace eventbus::testing

#endif  // EVENTBUS_TESTS_TESTING_GRPC_CLIENTS_H_

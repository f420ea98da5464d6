// Small helpers shared by the core tests.
#ifndef EVENTBUS_TESTS_SERVER_BUS_BUS_TEST_UTIL_H_
#define EVENTBUS_TESTS_SERVER_BUS_BUS_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "eventbus/v1/eventbus.pb.h"
#include "server/bus/subscription.h"

namespace eventbus::testing {

// An audit event with `resource_id` set, so tests can tell events apart.
inline v1::Event AuditEvent(const std::string& resource_id = "r") {
  v1::Event event;
  event.set_source("test");
  event.mutable_audit()->set_username("alice");
  event.mutable_audit()->set_operation(v1::OPERATION_READ);
  event.mutable_audit()->set_resource_id(resource_id);
  return event;
}

inline v1::Event SpaceNameEvent(const std::string& space = "s") {
  v1::Event event;
  event.mutable_space_name()->set_space(space);
  event.mutable_space_name()->set_name("n");
  return event;
}

inline std::vector<uint64_t> Sequences(const ReadBatch& batch) {
  std::vector<uint64_t> sequences;
  for (const auto& event : batch.events) sequences.push_back(event->sequence());
  return sequences;
}

}  // namespace eventbus::testing

#endif  // EVENTBUS_TESTS_SERVER_BUS_BUS_TEST_UTIL_H_

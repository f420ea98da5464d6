// Random (version 4) UUIDs for event ids and daemon instance ids.
#ifndef EVENTBUS_BASE_RANDOM_UUID_H_
#define EVENTBUS_BASE_RANDOM_UUID_H_

#include <string>

namespace eventbus {

// A random version 4 UUID in canonical text form,
// "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx". Thread-safe: each thread has
// its own generator, seeded from std::random_device.
std::string RandomUuid();

}  // namespace eventbus

#endif  // EVENTBUS_BASE_RANDOM_UUID_H_

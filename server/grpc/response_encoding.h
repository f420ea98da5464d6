// Assembles SubscribeResponse wire bytes from events encoded at publish time.
#ifndef EVENTBUS_SERVER_GRPC_RESPONSE_ENCODING_H_
#define EVENTBUS_SERVER_GRPC_RESPONSE_ENCODING_H_

#include <cstddef>
#include <cstdint>

#include "server/bus/subscription.h"

namespace eventbus {

// Size of the SubscribeResponse that carries `batch`: its lag notice and its
// events (end_of_stream is not part of a response).
size_t SubscribeResponseSize(const ReadBatch& batch);

// Writes that response to `out`, which has room for SubscribeResponseSize()
// bytes, and returns the end of what it wrote. Event bytes are copied as they
// were encoded at publish time, never re-serialized.
uint8_t* WriteSubscribeResponse(const ReadBatch& batch, uint8_t* out);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_GRPC_RESPONSE_ENCODING_H_

// Assembles SubscribeResponse wire bytes from events encoded at publish time.
#ifndef EVENTBUS_SERVER_RESPONSE_ENCODING_H_
#define EVENTBUS_SERVER_RESPONSE_ENCODING_H_

#include <string>

#include "server/subscription.h"

namespace eventbus {

// Replaces `*out` with the encoding of the SubscribeResponse that carries
// `batch` (its lag notice and events; end_of_stream is not part of it). The
// events' bytes are copied as they are, never re-serialized.
void EncodeSubscribeResponse(const ReadBatch& batch, std::string* out);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_RESPONSE_ENCODING_H_

// The gRPC metadata names that eventbusd sends and clients read; the proto
// (eventbus.proto) documents what each value means.
#ifndef EVENTBUS_BASE_METADATA_H_
#define EVENTBUS_BASE_METADATA_H_

namespace eventbus {

// On every response: the id of this daemon run. Sequence numbers from
// different instances are not comparable.
inline constexpr char kInstanceMetadataKey[] = "eventbus-instance";

// On Subscribe streams: the sequence the stream starts at (its first event,
// or the first of its first Lagged range). A client that reconnects before
// any event arrived resumes from it.
inline constexpr char kStartSequenceMetadataKey[] = "eventbus-start-sequence";

// On calls, from the client: "Bearer TOKEN" (RFC 6750).
inline constexpr char kAuthorizationMetadataKey[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";

}  // namespace eventbus

#endif  // EVENTBUS_BASE_METADATA_H_

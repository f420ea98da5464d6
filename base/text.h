// Text from clients: checking that it is UTF-8, and making it safe to log.
// Pure functions: thread-safe.
#ifndef EVENTBUS_BASE_TEXT_H_
#define EVENTBUS_BASE_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace eventbus {

// Whether `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no
// surrogates, nothing above U+10FFFF. Protobuf refuses to parse a `string`
// field that is not.
bool IsValidUtf8(std::string_view text);

// Longest client-supplied string a log line carries, in input bytes.
inline constexpr size_t kMaxLoggedTextBytes = 256;

// `text` as one line of a text log: control characters (U+0000-U+001F,
// U+007F-U+009F), backslashes and bytes that are not UTF-8 become `\xNN`, and
// text past `max_bytes` input bytes is cut and marked "...(N bytes)". A client
// can then neither forge a line nor send a terminal escape.
std::string EscapeForLog(std::string_view text,
                         size_t max_bytes = kMaxLoggedTextBytes);

// Comma-separated URLs with the credentials some carry
// ("nats://user:password@host:4222", "nats://token@host") replaced by
// "***", for a log line or an error message.
std::string WithoutCredentials(std::string_view urls);

}  // namespace eventbus

#endif  // EVENTBUS_BASE_TEXT_H_

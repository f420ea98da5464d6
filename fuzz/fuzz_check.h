// FUZZ_CHECK: the fuzz targets' oracle. A failed check prints the condition
// and aborts, which libFuzzer reports as a crash and saves the input.
// EVENTBUS_PROTO_FUZZER: the libFuzzer entry points of a target whose input
// is one protobuf message.
#ifndef EVENTBUS_FUZZ_FUZZ_CHECK_H_
#define EVENTBUS_FUZZ_FUZZ_CHECK_H_

#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                          \
  do {                                                                 \
    if (!(condition)) {                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #condition);                              \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

// Defines LLVMFuzzerInitialize and LLVMFuzzerTestOneInput for a target that
// parses its input as a `Message` and passes it to `run` (a function taking
// const Message&). Inputs that do not parse are skipped. Protobuf's log
// handler is silenced: parsing logs each invalid UTF-8 string it rejects.
#define EVENTBUS_PROTO_FUZZER(Message, run)                                 \
  extern "C" int LLVMFuzzerInitialize(int*, char***) {                      \
    google::protobuf::SetLogHandler(nullptr);                               \
    return 0;                                                               \
  }                                                                         \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    Message message;                                                        \
    if (!message.ParseFromArray(data, static_cast<int>(size))) return 0;    \
    run(message);                                                           \
    return 0;                                                               \
  }

#endif  // EVENTBUS_FUZZ_FUZZ_CHECK_H_

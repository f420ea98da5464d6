// FUZZ_CHECK: the fuzz targets' oracle. A failed check prints the condition
// and aborts, which libFuzzer reports as a crash and saves the input.
#ifndef EVENTBUS_FUZZ_FUZZ_CHECK_H_
#define EVENTBUS_FUZZ_FUZZ_CHECK_H_

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

#endif  // EVENTBUS_FUZZ_FUZZ_CHECK_H_

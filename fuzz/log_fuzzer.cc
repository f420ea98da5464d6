// log_fuzzer: the durable log's recovery and reads on whatever a crash, a
// bad disk or a hand edit may leave in its directory.
//
// Input: byte 0 holds flags (bit 0: the segment is a closed one, followed
// by an empty active segment; bit 1: storage.repair; bit 2: the segment has
// an index file: a closed one's, or the one a clean shutdown leaves), bytes 1-2
// the index's length (little endian), then the index bytes, then the segment
// file's bytes. The segment is named after the first sequence its header claims
// (so that most inputs get past the name check). Written into a fresh directory
// (under /dev/shm when there is one: fdatasync is free there).
//
// Oracle: Log::Open never crashes; when it succeeds, first <= next, every
// read below next returns ascending sequences of records that are in the
// file as they are, checksum included (or DataLoss, for a segment whose
// index lies), an append at next works, and opening the
// log again recovers exactly that, reporting no loss: recovery leaves the
// directory in a state recovery accepts as it is. (An active segment with an
// index is trusted as a clean shutdown left it, as a closed segment, lying
// or not: the append goes to a new segment, which nothing can cut.)
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "server/storage/log.h"
#include "server/storage/record_format.h"
#include "server/storage/segment.h"

namespace {

std::string* directory = nullptr;

void RemoveDirectory() {
  std::error_code ignored;
  if (directory != nullptr) std::filesystem::remove_all(*directory, ignored);
}

void WriteFile(const std::string& path, std::string_view bytes) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(write(fd, bytes.data(), bytes.size()) ==
             static_cast<ssize_t>(bytes.size()));
  close(fd);
}

eventbus::LogOptions Options(const std::string& path, bool repair) {
  eventbus::LogOptions options;
  options.path = path;
  options.segment_bytes = eventbus::LogOptions::kMinSegmentBytes;
  options.max_bytes = 0;
  options.repair = repair;
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* root = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string pattern = std::string(root) + "/eventbus-log-fuzzer.XXXXXX";
  FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr);
  directory = new std::string(pattern);
  atexit(RemoveDirectory);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t flags = data[0];
  const bool closed = flags & 1;
  const bool repair = flags & 2;
  const bool indexed = flags & 4;
  const size_t index_size =
      std::min<size_t>(data[1] | (data[2] << 8), size - 3);
  const std::string_view index(reinterpret_cast<const char*>(data) + 3,
                               index_size);
  const std::string_view segment(
      reinterpret_cast<const char*>(data) + 3 + index_size,
      size - 3 - index_size);

  const std::string path = *directory + "/log";
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
  std::filesystem::create_directories(path);
  uint64_t first = eventbus::ParseSegmentHeader(segment);
  if (first == 0 || first > (uint64_t{1} << 40)) first = 1;
  WriteFile(path + "/" + eventbus::Segment::FileName(first), segment);
  if (closed) {
    // An empty active segment after it: the fuzzed one is closed.
    std::string header;
    eventbus::AppendSegmentHeader(uint64_t{1} << 41, &header);
    WriteFile(path + "/" + eventbus::Segment::FileName(uint64_t{1} << 41),
              header);
  }
  if (indexed) {
    char name[64];
    std::snprintf(name, sizeof(name), "/%020llu.idx",
                  static_cast<unsigned long long>(first));
    WriteFile(path + name, index);
  }

  uint64_t next = 0;
  {
    eventbus::LogRecovery recovery;
    auto log = eventbus::Log::Open(Options(path, repair), &recovery);
    if (!log.ok()) return 0;
    const uint64_t oldest = (*log)->first_sequence();
    next = (*log)->next_sequence();
    FUZZ_CHECK(oldest <= next);
    uint64_t from = oldest;
    uint64_t previous = 0;
    while (from < next) {
      std::vector<eventbus::LogRecord> records;
      const absl::Status read =
          (*log)->Read(from, next, 1024, 1 << 20, &records);
      if (!read.ok()) {
        FUZZ_CHECK(absl::IsDataLoss(read));
        break;
      }
      if (records.empty()) break;
      for (const eventbus::LogRecord& record : records) {
        FUZZ_CHECK(record.sequence >= from && record.sequence < next);
        // Ascending, and without a hole inside one read.
        FUZZ_CHECK(record.sequence > previous);
        FUZZ_CHECK(&record == &records.front() ||
                   record.sequence == previous + 1);
        // What is returned was in the file, checksum and all: encoded
        // again, the record is there byte for byte.
        std::string encoded;
        eventbus::AppendRecord(record.sequence, record.time_nanos, record.event,
                               &encoded);
        FUZZ_CHECK(segment.find(encoded) != std::string_view::npos);
        previous = record.sequence;
      }
      from = previous + 1;
    }
    FUZZ_CHECK((*log)->Append(next, 0, "fuzz").ok());
    FUZZ_CHECK((*log)->Sync().ok());
  }
  eventbus::LogRecovery again;
  auto reopened = eventbus::Log::Open(Options(path, repair), &again);
  FUZZ_CHECK(reopened.ok());
  FUZZ_CHECK((*reopened)->next_sequence() == next + 1);
  FUZZ_CHECK(again.losses.empty() ||
             // A gap between the fuzzed segment and the one after it stays.
             (closed && again.losses.size() == 1));
  return 0;
}

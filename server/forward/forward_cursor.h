// ForwardCursor: the last sequence a forwarder has had acknowledged, kept
// in a small file of the storage directory.
//
// The file holds one 16-byte record (a magic number, the sequence, a CRC32
// of both) that Store rewrites in place with one pwrite(2): a write of 16
// bytes at offset 0 is never torn on the file systems we run on. A new file
// is synced with its directory; Store syncs at most once a second, and Sync
// (at Stop) once more. So a process crash loses no store, and a power
// failure at most the last second's: the forwarder then sends those events
// again, which the receiver deduplicates within its window (see
// server/forward/README.md). A record that does not check out is an error,
// not a silent restart from 0.
//
// Thread-safety: Store from one thread at a time; sequence() from any.
#ifndef EVENTBUS_SERVER_FORWARD_FORWARD_CURSOR_H_
#define EVENTBUS_SERVER_FORWARD_FORWARD_CURSOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace eventbus {

class ForwardCursor {
 public:
  // Opens `path`, creating it at 0 (nothing forwarded) when missing.
  // Errors: the file system's, and DataLoss for a record that does not
  // check out (the message says how to start over).
  static absl::StatusOr<std::unique_ptr<ForwardCursor>> Open(std::string path);
  ~ForwardCursor();
  ForwardCursor(const ForwardCursor&) = delete;
  ForwardCursor& operator=(const ForwardCursor&) = delete;

  // The last sequence acknowledged (0: none).
  uint64_t sequence() const { return sequence_.load(); }
  // Records `sequence` (not below the current one).
  absl::Status Store(uint64_t sequence);
  // Makes the last Store durable.
  absl::Status Sync();

  const std::string& path() const { return path_; }

 private:
  ForwardCursor(std::string path, int fd, uint64_t sequence)
      : path_(std::move(path)), fd_(fd), sequence_(sequence) {}

  const std::string path_;
  const int fd_;
  std::atomic<uint64_t> sequence_;
  absl::Time last_sync_ = absl::InfinitePast();  // Store's thread only
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_FORWARD_FORWARD_CURSOR_H_

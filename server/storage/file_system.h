// FileSystem: the few file operations the durable log needs, behind an
// interface so that tests can put a fault-injecting layer under the log (in
// the manner of leveldb's Env and its fault_injection_test): lose what was
// not synced, fail the Nth write or sync, run out of space.
//
// Errors carry the errno's code (absl::ErrnoToStatusCode: ENOSPC is
// ResourceExhausted, EIO Internal ...) and a message "OPERATION PATH:
// strerror".
//
// Thread-safety: a FileSystem is safe from any thread. A WritableFile is
// used by one thread at a time, but Sync may run beside an Append on
// another thread (the log syncs outside its append path). A ReadableFile's
// ReadAt is safe from any thread.
#ifndef EVENTBUS_SERVER_STORAGE_FILE_SYSTEM_H_
#define EVENTBUS_SERVER_STORAGE_FILE_SYSTEM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace eventbus {

// A file written at its end.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the end. On error part of it may be written:
  // the caller truncates back.
  virtual absl::Status Append(std::string_view data) = 0;
  // Cuts the file to `size` bytes; later appends go after them.
  virtual absl::Status Truncate(uint64_t size) = 0;
  // fdatasync: everything appended before the call is on disk.
  virtual absl::Status Sync() = 0;
};

// A file read at any offset.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to `size` bytes at `offset` into `out`; returns how many (fewer
  // only at the end of the file).
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t size,
                                        char* out) const = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
};

// Held while a directory is locked (see FileSystem::LockDirectory).
class DirectoryLock {
 public:
  virtual ~DirectoryLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens `path` for appending, creating it (mode 0600) when missing; with
  // `exclusive` it must not exist yet (AlreadyExists).
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, bool exclusive) = 0;
  virtual absl::StatusOr<std::unique_ptr<ReadableFile>> OpenReadable(
      const std::string& path) = 0;
  // The names in `dir` (without "." and "..").
  virtual absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) = 0;
  // Creates `dir` (mode 0700) and its missing parents; OK when it exists.
  virtual absl::Status CreateDirectory(const std::string& dir) = 0;
  // fsync of the directory: its entries created, renamed or removed
  // before the call are on disk.
  virtual absl::Status SyncDirectory(const std::string& dir) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  // rename(2): replaces `to` atomically.
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
  // An exclusive advisory lock (flock) on `path`, created when missing,
  // held until the returned lock is destroyed. Error: FailedPrecondition
  // when another process holds it.
  virtual absl::StatusOr<std::unique_ptr<DirectoryLock>> LockDirectory(
      const std::string& path) = 0;
};

// The real one (POSIX). Never destroyed.
FileSystem* PosixFileSystem();

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_STORAGE_FILE_SYSTEM_H_

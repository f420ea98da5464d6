// FaultFileSystem: a FileSystem over the real one that tests use to make
// the durable log meet what disks and kernels do (leveldb's
// fault_injection_test, as a layer):
//   - DropUnsyncedData(): a power failure. Each file written through it is
//     cut back to what was synced, and files created since their
//     directory was last synced disappear.
//   - FailWrite / FailSync: the Nth write (optionally half written) or sync
//     from now fails with the given errno.
//   - SetNoSpace: every write fails with ENOSPC while set.
// Thread-safe.
#ifndef EVENTBUS_TESTS_SERVER_STORAGE_FAULT_FILE_SYSTEM_H_
#define EVENTBUS_TESTS_SERVER_STORAGE_FAULT_FILE_SYSTEM_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"
#include "server/storage/file_system.h"

namespace eventbus::testing {

class FaultFileSystem final : public FileSystem {
 public:
  explicit FaultFileSystem(FileSystem* base = PosixFileSystem())
      : base_(base) {}

  // The `nth` write from now (1 = the next) fails with `error`; with
  // `partial`, after writing half of its bytes.
  void FailWrite(int nth, int error, bool partial = false)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The `nth` sync (file or directory) from now fails with `error`.
  void FailSync(int nth, int error) ABSL_LOCKS_EXCLUDED(mu_);
  void SetNoSpace(bool full) ABSL_LOCKS_EXCLUDED(mu_);
  // Loses what a power failure would (see above). Call with no file open
  // for writing.
  void DropUnsyncedData() ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t writes() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t syncs() const ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, bool exclusive) override;
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenReadable(
      const std::string& path) override {
    return base_->OpenReadable(path);
  }
  absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) override {
    return base_->ListDirectory(dir);
  }
  absl::Status CreateDirectory(const std::string& dir) override {
    return base_->CreateDirectory(dir);
  }
  absl::Status SyncDirectory(const std::string& dir) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Remove(const std::string& path) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Rename(const std::string& from, const std::string& to) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::unique_ptr<DirectoryLock>> LockDirectory(
      const std::string& path) override {
    return base_->LockDirectory(path);
  }

 private:
  class File;
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
    bool created_unsynced = false;  // its directory entry may be lost
  };
  // The fault due for this write or sync, if any.
  absl::Status WriteFault(bool* partial) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status SyncFault() ABSL_LOCKS_EXCLUDED(mu_);
  void Written(const std::string& path, uint64_t size) ABSL_LOCKS_EXCLUDED(mu_);
  void Synced(const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);

  FileSystem* const base_;
  mutable Mutex mu_;
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  int write_countdown_ ABSL_GUARDED_BY(mu_) = 0;
  int write_error_ ABSL_GUARDED_BY(mu_) = 0;
  bool write_partial_ ABSL_GUARDED_BY(mu_) = false;
  int sync_countdown_ ABSL_GUARDED_BY(mu_) = 0;
  int sync_error_ ABSL_GUARDED_BY(mu_) = 0;
  bool no_space_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace eventbus::testing

#endif  // EVENTBUS_TESTS_SERVER_STORAGE_FAULT_FILE_SYSTEM_H_

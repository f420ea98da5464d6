#include "tests/server/storage/fault_file_system.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace eventbus::testing {
namespace {

absl::Status Injected(int error, const char* what) {
  return absl::Status(
      absl::ErrnoToStatusCode(error),
      absl::StrCat(what, " (injected): ",
                   std::error_code(error, std::generic_category()).message()));
}

std::string DirectoryOf(const std::string& path) {
  return path.substr(0, path.rfind('/'));
}

}  // namespace

class FaultFileSystem::File final : public WritableFile {
 public:
  File(FaultFileSystem* fs, std::string path,
       std::unique_ptr<WritableFile> base, uint64_t size)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)), size_(size) {}

  absl::Status Append(std::string_view data) override {
    bool partial = false;
    if (absl::Status fault = fs_->WriteFault(&partial); !fault.ok()) {
      if (partial) {
        const std::string_view half = data.substr(0, data.size() / 2);
        if (base_->Append(half).ok()) {
          size_ += half.size();
          fs_->Written(path_, size_);
        }
      }
      return fault;
    }
    absl::Status status = base_->Append(data);
    if (status.ok()) {
      size_ += data.size();
      fs_->Written(path_, size_);
    }
    return status;
  }

  absl::Status Truncate(uint64_t size) override {
    absl::Status status = base_->Truncate(size);
    if (status.ok()) {
      size_ = size;
      fs_->Written(path_, size_);
    }
    return status;
  }

  absl::Status Sync() override {
    if (absl::Status fault = fs_->SyncFault(); !fault.ok()) return fault;
    absl::Status status = base_->Sync();
    if (status.ok()) fs_->Synced(path_);
    return status;
  }

 private:
  FaultFileSystem* const fs_;
  const std::string path_;
  const std::unique_ptr<WritableFile> base_;
  uint64_t size_;
};

void FaultFileSystem::FailWrite(int nth, int error, bool partial) {
  MutexLock lock(&mu_);
  write_countdown_ = nth;
  write_error_ = error;
  write_partial_ = partial;
}

void FaultFileSystem::FailSync(int nth, int error) {
  MutexLock lock(&mu_);
  sync_countdown_ = nth;
  sync_error_ = error;
}

void FaultFileSystem::SetNoSpace(bool full) {
  MutexLock lock(&mu_);
  no_space_ = full;
}

uint64_t FaultFileSystem::writes() const {
  MutexLock lock(&mu_);
  return writes_;
}

uint64_t FaultFileSystem::syncs() const {
  MutexLock lock(&mu_);
  return syncs_;
}

absl::Status FaultFileSystem::WriteFault(bool* partial) {
  MutexLock lock(&mu_);
  ++writes_;
  if (no_space_) return Injected(ENOSPC, "write");
  if (write_countdown_ > 0 && --write_countdown_ == 0) {
    *partial = write_partial_;
    return Injected(write_error_, "write");
  }
  return absl::OkStatus();
}

absl::Status FaultFileSystem::SyncFault() {
  MutexLock lock(&mu_);
  ++syncs_;
  if (sync_countdown_ > 0 && --sync_countdown_ == 0) {
    return Injected(sync_error_, "sync");
  }
  return absl::OkStatus();
}

void FaultFileSystem::Written(const std::string& path, uint64_t size) {
  MutexLock lock(&mu_);
  files_[path].size = size;
}

void FaultFileSystem::Synced(const std::string& path) {
  MutexLock lock(&mu_);
  FileState& state = files_[path];
  state.synced = state.size;
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultFileSystem::OpenWritable(
    const std::string& path, bool exclusive) {
  struct stat info;
  const bool existed = stat(path.c_str(), &info) == 0;
  absl::StatusOr<std::unique_ptr<WritableFile>> base =
      base_->OpenWritable(path, exclusive);
  if (!base.ok()) return base.status();
  const uint64_t size = existed ? static_cast<uint64_t>(info.st_size) : 0;
  {
    MutexLock lock(&mu_);
    auto [it, added] = files_.try_emplace(path);
    if (added) {
      // A file from before is taken as synced as it is.
      it->second.size = size;
      it->second.synced = size;
      it->second.created_unsynced = !existed;
    }
  }
  return std::unique_ptr<WritableFile>(
      new File(this, path, *std::move(base), size));
}

absl::Status FaultFileSystem::SyncDirectory(const std::string& dir) {
  if (absl::Status fault = SyncFault(); !fault.ok()) return fault;
  absl::Status status = base_->SyncDirectory(dir);
  if (!status.ok()) return status;
  MutexLock lock(&mu_);
  for (auto& [path, state] : files_) {
    if (DirectoryOf(path) == dir) state.created_unsynced = false;
  }
  return status;
}

absl::Status FaultFileSystem::Remove(const std::string& path) {
  absl::Status status = base_->Remove(path);
  MutexLock lock(&mu_);
  files_.erase(path);
  return status;
}

absl::Status FaultFileSystem::Rename(const std::string& from,
                                     const std::string& to) {
  absl::Status status = base_->Rename(from, to);
  if (!status.ok()) return status;
  MutexLock lock(&mu_);
  auto node = files_.extract(from);
  if (!node.empty()) {
    node.key() = to;
    files_.insert_or_assign(to, node.mapped());
  }
  return status;
}

void FaultFileSystem::DropUnsyncedData() {
  MutexLock lock(&mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->second.created_unsynced) {
      unlink(it->first.c_str());
      it = files_.erase(it);
      continue;
    }
    if (truncate(it->first.c_str(), static_cast<off_t>(it->second.synced)) ==
        0) {
      it->second.size = it->second.synced;
    }
    ++it;
  }
}

}  // namespace eventbus::testing

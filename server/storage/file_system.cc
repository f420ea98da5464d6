#include "server/storage/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace eventbus {
namespace {

absl::Status ErrnoStatus(int error, const char* operation,
                         const std::string& path) {
  return absl::Status(
      absl::ErrnoToStatusCode(error),
      absl::StrCat(operation, " ", path, ": ",
                   std::error_code(error, std::generic_category()).message()));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd)
      : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { close(fd_); }

  absl::Status Append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t written = write(fd_, data.data(), data.size());
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) return ErrnoStatus(errno, "write", path_);
      data.remove_prefix(static_cast<size_t>(written));
    }
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus(errno, "ftruncate", path_);
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync", path_);
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(std::string path, int fd)
      : path_(std::move(path)), fd_(fd) {}
  ~PosixReadableFile() override { close(fd_); }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t size,
                                char* out) const override {
    size_t done = 0;
    while (done < size) {
      const ssize_t count = pread(fd_, out + done, size - done,
                                  static_cast<off_t>(offset + done));
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) return ErrnoStatus(errno, "pread", path_);
      if (count == 0) break;
      done += static_cast<size_t>(count);
    }
    return done;
  }

  absl::StatusOr<uint64_t> Size() const override {
    struct stat info;
    if (fstat(fd_, &info) != 0) return ErrnoStatus(errno, "fstat", path_);
    return static_cast<uint64_t>(info.st_size);
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixDirectoryLock final : public DirectoryLock {
 public:
  explicit PosixDirectoryLock(int fd) : fd_(fd) {}
  ~PosixDirectoryLock() override { close(fd_); }

 private:
  const int fd_;
};

class Posix final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, bool exclusive) override {
    const int fd = open(
        path.c_str(),
        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (exclusive ? O_EXCL : 0),
        0600);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    return std::make_unique<PosixWritableFile>(path, fd);
  }

  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenReadable(
      const std::string& path) override {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    return std::make_unique<PosixReadableFile>(path, fd);
  }

  absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) override {
    DIR* handle = opendir(dir.c_str());
    if (handle == nullptr) return ErrnoStatus(errno, "opendir", dir);
    std::vector<std::string> names;
    while (dirent* entry = readdir(handle)) {
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    closedir(handle);
    return names;
  }

  absl::Status CreateDirectory(const std::string& dir) override {
    for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
      const std::string prefix = dir.substr(0, slash);
      if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, "mkdir", prefix);
      }
      if (slash == std::string::npos) break;
    }
    struct stat info;
    if (stat(dir.c_str(), &info) != 0) return ErrnoStatus(errno, "stat", dir);
    if (!S_ISDIR(info.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, " is not a directory"));
    }
    return absl::OkStatus();
  }

  absl::Status SyncDirectory(const std::string& dir) override {
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open", dir);
    const int synced = fsync(fd);
    const int error = errno;
    close(fd);
    if (synced != 0) return ErrnoStatus(error, "fsync", dir);
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return ErrnoStatus(errno, "unlink", path);
    return absl::OkStatus();
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus(errno, "rename", from);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<DirectoryLock>> LockDirectory(
      const std::string& path) override {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      close(fd);
      if (error == EWOULDBLOCK) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, " is locked: another eventbusd uses this storage.path"));
      }
      return ErrnoStatus(error, "flock", path);
    }
    return std::make_unique<PosixDirectoryLock>(fd);
  }
};

}  // namespace

FileSystem* PosixFileSystem() {
  static Posix* const file_system = new Posix();
  return file_system;
}

}  // namespace eventbus

#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace eventbus {
namespace {

absl::Status ErrnoStatus(int error) {
  return absl::Status(
      absl::ErrnoToStatusCode(error),
      std::error_code(error, std::generic_category()).message());
}

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Closes the descriptor it holds.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  const int fd_;
};

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes) {
  const auto not_regular = [](mode_t mode) {
    return absl::FailedPreconditionError(
        absl::StrCat("is ", FileTypeName(mode), ", not a regular file"));
  };
  // The type first: opening some devices has effects of its own (a
  // watchdog, a tape that rewinds).
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return ErrnoStatus(errno);
  if (!S_ISREG(info.st_mode)) return not_regular(info.st_mode);
  // O_NONBLOCK: should the path turn into a FIFO meanwhile, opening it does
  // not wait for a writer; fstat then checks what was opened.
  const FileDescriptor file(
      open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (file.get() < 0) return ErrnoStatus(errno);
  if (fstat(file.get(), &info) != 0) return ErrnoStatus(errno);
  if (!S_ISREG(info.st_mode)) return not_regular(info.st_mode);
  const auto too_large = [&](uint64_t size) {
    return absl::FailedPreconditionError(
        absl::StrCat("is ", size, " bytes, over the limit of ", max_bytes));
  };
  if (static_cast<uint64_t>(info.st_size) > max_bytes) {
    return too_large(info.st_size);
  }
  // Read to the limit and one byte past it: the file may grow meanwhile
  // (or report no size, as files in /proc do).
  std::string contents(std::min<uint64_t>(info.st_size, max_bytes) + 1, '\0');
  size_t length = 0;
  while (true) {
    if (length == contents.size()) {
      if (length > max_bytes) break;
      contents.resize(std::min<size_t>(2 * length + 4096, max_bytes + 1));
    }
    const ssize_t count =
        read(file.get(), contents.data() + length, contents.size() - length);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return ErrnoStatus(errno);
    if (count == 0) break;
    length += static_cast<size_t>(count);
  }
  if (length > max_bytes) return too_large(length);
  contents.resize(length);
  return contents;
}

absl::StatusOr<std::string> ReadSettingFile(std::string_view key,
                                            const std::string& path,
                                            size_t max_bytes) {
  absl::StatusOr<std::string> text = ReadFileToString(path, max_bytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::string_view(key.data(), key.size()),
                     ": cannot read ", path, ": ", text.status().message()));
  }
  return text;
}

}  // namespace eventbus

#include "server/forward/forward_cursor.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace eventbus {
namespace {

constexpr uint32_t kMagic = 0x45424631;  // "EBF1"
constexpr size_t kRecordBytes = 16;

uint32_t Checksum(const unsigned char* bytes) {
  return static_cast<uint32_t>(crc32(0L, bytes, 12));
}

void Encode(uint64_t sequence, unsigned char* out) {
  std::memcpy(out, &kMagic, 4);
  std::memcpy(out + 4, &sequence, 8);
  const uint32_t crc = Checksum(out);
  std::memcpy(out + 12, &crc, 4);
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ForwardCursor>> ForwardCursor::Open(
    std::string path) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("open", path);
  unsigned char record[kRecordBytes];
  const ssize_t got = pread(fd, record, kRecordBytes, 0);
  if (got < 0) {
    const absl::Status error = Errno("read", path);
    close(fd);
    return error;
  }
  uint64_t sequence = 0;
  if (got == 0) {
    // New: durable with its directory entry before anything relies on it.
    Encode(0, record);
    if (pwrite(fd, record, kRecordBytes, 0) != kRecordBytes ||
        fdatasync(fd) != 0) {
      const absl::Status error = Errno("write", path);
      close(fd);
      return error;
    }
    const std::string directory = path.substr(0, path.rfind('/') + 1);
    const int dir_fd =
        open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_CLOEXEC);
    if (dir_fd >= 0) {
      fsync(dir_fd);
      close(dir_fd);
    }
  } else {
    uint32_t magic = 0;
    uint32_t crc = 0;
    std::memcpy(&magic, record, 4);
    std::memcpy(&sequence, record + 4, 8);
    std::memcpy(&crc, record + 12, 4);
    if (got != kRecordBytes || magic != kMagic || crc != Checksum(record)) {
      close(fd);
      return absl::DataLossError(absl::StrCat(
          path,
          " is not a forward cursor (or is damaged); remove it to forward "
          "the whole log again (the receiver drops what it already has "
          "within its duplicate window)"));
    }
  }
  return std::unique_ptr<ForwardCursor>(
      new ForwardCursor(std::move(path), fd, sequence));
}

ForwardCursor::~ForwardCursor() { close(fd_); }

absl::Status ForwardCursor::Store(uint64_t sequence) {
  if (sequence <= sequence_.load()) return absl::OkStatus();
  unsigned char record[kRecordBytes];
  Encode(sequence, record);
  if (pwrite(fd_, record, kRecordBytes, 0) != kRecordBytes) {
    return Errno("write", path_);
  }
  sequence_.store(sequence);
  const absl::Time now = absl::Now();
  if (now - last_sync_ >= absl::Seconds(1)) {
    last_sync_ = now;
    return Sync();
  }
  return absl::OkStatus();
}

absl::Status ForwardCursor::Sync() {
  if (fdatasync(fd_) != 0) return Errno("sync", path_);
  return absl::OkStatus();
}

}  // namespace eventbus

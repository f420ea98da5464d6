#include "server/storage/segment.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "server/storage/record_format.h"

namespace eventbus {
namespace {

constexpr std::string_view kIndexMagic = "EVBUSIX1";
constexpr char kSegmentSuffix[] = ".log";
constexpr size_t kSegmentSuffixBytes = 4;
// Bytes read at once while scanning or reading.
constexpr size_t kReadChunkBytes = 64 << 10;

// Reads a file front to back in chunks: the bytes at any offset, through a
// window that moves forward.
class ChunkReader {
 public:
  ChunkReader(const ReadableFile* file, uint64_t end)
      : file_(file), end_(end) {}

  // Points `*bytes` at [offset, offset + size), all of it before end;
  // false when the file ends first.
  absl::StatusOr<bool> Get(uint64_t offset, size_t size,
                           std::string_view* bytes) {
    if (offset + size > end_) return false;
    if (offset < start_ || offset + size > start_ + buffer_.size()) {
      const size_t want = static_cast<size_t>(
          std::min<uint64_t>(std::max(size, kReadChunkBytes), end_ - offset));
      buffer_.resize(want);
      EVENTBUS_ASSIGN_OR_RETURN(size_t got,
                                file_->ReadAt(offset, want, buffer_.data()));
      buffer_.resize(got);
      start_ = offset;
      if (got < size) return false;
    }
    *bytes = std::string_view(buffer_).substr(offset - start_, size);
    return true;
  }

 private:
  const ReadableFile* const file_;
  const uint64_t end_;
  std::string buffer_;
  uint64_t start_ = 0;
};

}  // namespace

std::string Segment::FileName(uint64_t first_sequence) {
  return absl::StrFormat("%020u%s", first_sequence, kSegmentSuffix);
}

std::optional<uint64_t> Segment::ParseFileName(std::string_view name) {
  if (name.size() != 20 + kSegmentSuffixBytes ||
      name.substr(20) != kSegmentSuffix) {
    return std::nullopt;
  }
  uint64_t first = 0;
  const std::string_view digits = name.substr(0, 20);
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()),
                        &first) ||
      first == 0) {
    return std::nullopt;
  }
  return first;
}

Segment::Segment(FileSystem* fs, std::string dir, uint64_t first_sequence,
                 std::unique_ptr<ReadableFile> reader)
    : fs_(fs),
      dir_(std::move(dir)),
      first_sequence_(first_sequence),
      reader_(std::move(reader)) {
  MutexLock lock(&mu_);
  size_ = kSegmentHeaderBytes;
  end_sequence_ = first_sequence;
}

std::string Segment::path() const {
  return absl::StrCat(dir_, "/", FileName(first_sequence_));
}

std::string Segment::index_path() const {
  return absl::StrFormat("%s/%020u.idx", dir_, first_sequence_);
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Create(
    FileSystem* fs, const std::string& dir, uint64_t first_sequence) {
  const std::string path = absl::StrCat(dir, "/", FileName(first_sequence));
  EVENTBUS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> writer,
                            fs->OpenWritable(path, /*exclusive=*/true));
  std::string header;
  AppendSegmentHeader(first_sequence, &header);
  if (absl::Status written = writer->Append(header); !written.ok()) {
    writer.reset();
    fs->Remove(path).IgnoreError();  // a half header helps no one
    return written;
  }
  EVENTBUS_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> reader,
                            fs->OpenReadable(path));
  auto segment =
      std::make_shared<Segment>(fs, dir, first_sequence, std::move(reader));
  segment->writer_ = std::move(writer);
  return segment;
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Open(FileSystem* fs,
                                                       const std::string& dir,
                                                       uint64_t first_sequence,
                                                       bool* indexed) {
  const std::string path = absl::StrCat(dir, "/", FileName(first_sequence));
  EVENTBUS_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> reader,
                            fs->OpenReadable(path));
  char header[kSegmentHeaderBytes];
  EVENTBUS_ASSIGN_OR_RETURN(size_t got,
                            reader->ReadAt(0, sizeof(header), header));
  if (ParseSegmentHeader(std::string_view(header, got)) != first_sequence) {
    return absl::DataLossError(
        absl::StrCat(path, ": offset 0: not a segment header for sequence ",
                     first_sequence));
  }
  auto segment =
      std::make_shared<Segment>(fs, dir, first_sequence, std::move(reader));
  *indexed = segment->LoadIndex();
  return segment;
}

void Segment::Indexed(uint64_t sequence, uint64_t offset, int64_t time_nanos,
                      uint64_t end_offset) {
  if (index_.empty() || offset - index_.back().offset >= kIndexIntervalBytes) {
    index_.push_back(IndexEntry{sequence, offset});
  }
  end_sequence_ = sequence + 1;
  last_time_nanos_ = time_nanos;
  size_ = end_offset;
}

absl::StatusOr<SegmentScan> Segment::Scan() {
  EVENTBUS_ASSIGN_OR_RETURN(uint64_t file_size, reader_->Size());
  ChunkReader chunks(reader_.get(), file_size);
  SegmentScan scan;
  uint64_t offset = kSegmentHeaderBytes;
  uint64_t expected = first_sequence_;
  {
    MutexLock lock(&mu_);
    index_.clear();
    size_ = offset;
    end_sequence_ = first_sequence_;
  }
  while (offset < file_size) {
    std::string_view bytes;
    EVENTBUS_ASSIGN_OR_RETURN(bool whole,
                              chunks.Get(offset, kRecordHeaderBytes, &bytes));
    if (!whole) {
      scan.bad = "a record header cut short";
      break;
    }
    // Copied: reading the event may move the window under `bytes`.
    char raw[kRecordHeaderBytes];
    std::memcpy(raw, bytes.data(), sizeof(raw));
    const RecordHeader header = ParseRecordHeader(raw);
    if (header.length == 0 || header.length > kMaxRecordBytes) {
      scan.bad = absl::StrCat("a record length of ", header.length);
      break;
    }
    if (header.sequence != expected) {
      scan.bad = absl::StrCat("sequence ", header.sequence, " where ", expected,
                              " was due");
      break;
    }
    std::string_view event;
    EVENTBUS_ASSIGN_OR_RETURN(
        whole, chunks.Get(offset + kRecordHeaderBytes, header.length, &event));
    if (!whole) {
      scan.bad = absl::StrCat("a record of ", header.length,
                              " bytes cut short by the end of the file");
      break;
    }
    if (!ChecksumMatches(raw, event)) {
      scan.bad = absl::StrCat("the checksum of sequence ", header.sequence,
                              " does not match");
      break;
    }
    const uint64_t next = offset + kRecordHeaderBytes + header.length;
    {
      MutexLock lock(&mu_);
      Indexed(header.sequence, offset, header.time_nanos, next);
    }
    ++scan.records;
    ++expected;
    offset = next;
  }
  scan.valid_bytes = offset;
  if (scan.bad) {
    scan.bad = absl::StrCat(path(), ": offset ", offset, ": ", *scan.bad);
    scan.bad_bytes = file_size - offset;
    // Count what still looks like records after the bad one, for the log.
    uint64_t at = offset;
    while (at + kRecordHeaderBytes <= file_size) {
      std::string_view bytes;
      EVENTBUS_ASSIGN_OR_RETURN(bool whole,
                                chunks.Get(at, kRecordHeaderBytes, &bytes));
      if (!whole) break;
      const RecordHeader header = ParseRecordHeader(bytes.data());
      ++scan.bad_records;
      if (header.length == 0 || header.length > kMaxRecordBytes) break;
      at += kRecordHeaderBytes + header.length;
    }
    if (scan.bad_records == 0) scan.bad_records = 1;
  }
  return scan;
}

absl::Status Segment::OpenForAppend(uint64_t valid_bytes) {
  EVENTBUS_ASSIGN_OR_RETURN(writer_,
                            fs_->OpenWritable(path(), /*exclusive=*/false));
  EVENTBUS_RETURN_IF_ERROR(writer_->Truncate(valid_bytes));
  MutexLock lock(&mu_);
  size_ = valid_bytes;
  return absl::OkStatus();
}

absl::Status Segment::Append(uint64_t sequence, int64_t time_nanos,
                             std::string_view event, std::string* scratch,
                             bool* broken) {
  const uint64_t offset = size_bytes();
  scratch->clear();
  AppendRecord(sequence, time_nanos, event, scratch);
  if (absl::Status written = writer_->Append(*scratch); !written.ok()) {
    // Part of it may be in the file: cut it off, or the end is unknown.
    if (!writer_->Truncate(offset).ok()) *broken = true;
    return written;
  }
  MutexLock lock(&mu_);
  Indexed(sequence, offset, time_nanos, offset + scratch->size());
  return absl::OkStatus();
}

absl::Status Segment::Sync() {
  if (writer_ == nullptr) return absl::OkStatus();
  return writer_->Sync();
}

absl::Status Segment::Seal() {
  EVENTBUS_RETURN_IF_ERROR(Sync());
  writer_.reset();
  std::string index;
  index.append(kIndexMagic);
  {
    MutexLock lock(&mu_);
    AppendFixed64(first_sequence_, &index);
    AppendFixed64(end_sequence_, &index);
    AppendFixed64(static_cast<uint64_t>(last_time_nanos_), &index);
    AppendFixed64(size_, &index);
    AppendFixed64(index_.size(), &index);
    for (const IndexEntry& entry : index_) {
      AppendFixed64(entry.sequence, &index);
      AppendFixed64(entry.offset, &index);
    }
  }
  AppendFixed32(Crc32(0, index), &index);
  // Written beside, then renamed: a torn index file is never read.
  const std::string temporary = index_path() + ".tmp";
  {
    EVENTBUS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                              fs_->OpenWritable(temporary, false));
    EVENTBUS_RETURN_IF_ERROR(file->Truncate(0));
    EVENTBUS_RETURN_IF_ERROR(file->Append(index));
    EVENTBUS_RETURN_IF_ERROR(file->Sync());
  }
  return fs_->Rename(temporary, index_path());
}

bool Segment::LoadIndex() {
  absl::StatusOr<std::unique_ptr<ReadableFile>> file =
      fs_->OpenReadable(index_path());
  if (!file.ok()) return false;
  absl::StatusOr<uint64_t> size = (*file)->Size();
  constexpr size_t kFixed = 8 + 5 * 8;
  if (!size.ok() || *size < kFixed + 4 || *size > (64u << 20)) return false;
  std::string bytes(*size, '\0');
  absl::StatusOr<size_t> got = (*file)->ReadAt(0, bytes.size(), bytes.data());
  if (!got.ok() || *got != bytes.size()) return false;
  const std::string_view body(bytes.data(), bytes.size() - 4);
  if (body.substr(0, kIndexMagic.size()) != kIndexMagic ||
      Crc32(0, body) != ReadFixed32(bytes.data() + body.size())) {
    return false;
  }
  const char* at = bytes.data() + kIndexMagic.size();
  const uint64_t first = ReadFixed64(at);
  const uint64_t end = ReadFixed64(at + 8);
  const int64_t last_time = static_cast<int64_t>(ReadFixed64(at + 16));
  const uint64_t data_size = ReadFixed64(at + 24);
  const uint64_t entries = ReadFixed64(at + 32);
  absl::StatusOr<uint64_t> segment_size = reader_->Size();
  if (first != first_sequence_ || end <= first || !segment_size.ok() ||
      *segment_size != data_size || entries == 0 ||
      body.size() != kFixed + entries * 16) {
    return false;
  }
  MutexLock lock(&mu_);
  index_.clear();
  for (uint64_t i = 0; i < entries; ++i) {
    const char* entry = at + 40 + i * 16;
    index_.push_back(IndexEntry{ReadFixed64(entry), ReadFixed64(entry + 8)});
  }
  end_sequence_ = end;
  last_time_nanos_ = last_time;
  size_ = data_size;
  return true;
}

absl::Status Segment::Read(uint64_t from, uint64_t end, size_t max_events,
                           size_t max_bytes,
                           std::vector<LogRecord>* out) const {
  uint64_t offset = kSegmentHeaderBytes;
  uint64_t size = 0;
  {
    MutexLock lock(&mu_);
    size = size_;
    end = std::min(end, end_sequence_);
    // The last entry at or before `from`.
    auto after = std::upper_bound(index_.begin(), index_.end(), from,
                                  [](uint64_t sequence, const IndexEntry& e) {
                                    return sequence < e.sequence;
                                  });
    if (after != index_.begin()) offset = std::prev(after)->offset;
  }
  ChunkReader chunks(reader_.get(), size);
  size_t events = 0;
  size_t bytes_read = 0;
  while (events < max_events && offset < size) {
    std::string_view bytes;
    EVENTBUS_ASSIGN_OR_RETURN(bool whole,
                              chunks.Get(offset, kRecordHeaderBytes, &bytes));
    char raw[kRecordHeaderBytes] = {};
    if (whole) std::memcpy(raw, bytes.data(), sizeof(raw));
    const RecordHeader header = ParseRecordHeader(raw);
    if (header.sequence >= end) break;
    std::string_view event;
    if (whole && header.length > 0 && header.length <= kMaxRecordBytes) {
      EVENTBUS_ASSIGN_OR_RETURN(whole, chunks.Get(offset + kRecordHeaderBytes,
                                                  header.length, &event));
    }
    if (!whole || header.length == 0 || header.length > kMaxRecordBytes ||
        !ChecksumMatches(raw, event)) {
      return absl::DataLossError(
          absl::StrCat(path(), ": offset ", offset,
                       ": a bad record (checksum, length or a short read)"));
    }
    offset += kRecordHeaderBytes + header.length;
    if (header.sequence < from) continue;
    if (events > 0 && bytes_read + header.length > max_bytes) break;
    out->push_back(LogRecord{.sequence = header.sequence,
                             .time_nanos = header.time_nanos,
                             .event = std::string(event)});
    ++events;
    bytes_read += header.length;
  }
  return absl::OkStatus();
}

uint64_t Segment::end_sequence() const {
  MutexLock lock(&mu_);
  return end_sequence_;
}

uint64_t Segment::size_bytes() const {
  MutexLock lock(&mu_);
  return size_;
}

int64_t Segment::last_time_nanos() const {
  MutexLock lock(&mu_);
  return last_time_nanos_;
}

}  // namespace eventbus

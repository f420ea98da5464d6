// The durable log on a real directory, with faults put under it by
// FaultFileSystem: recovery, the index, retention, and what survives a
// power failure, a full disk and a failed sync.
#include "server/storage/log.h"

#include <cerrno>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/storage/fault_file_system.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::FaultFileSystem;
using ::eventbus::testing::IsOk;
using ::eventbus::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Distinct bytes per sequence, `size` long.
std::string EventBytes(uint64_t sequence, size_t size = 100) {
  std::string bytes = absl::StrCat("event-", sequence, "-");
  bytes.resize(size, static_cast<char>('a' + sequence % 26));
  return bytes;
}

class LogTest : public ::testing::Test {
 protected:
  LogOptions Options() {
    return LogOptions{.path = dir_.Path("log"),
                      .segment_bytes = LogOptions::kMinSegmentBytes,
                      .fs = &fs_};
  }

  std::unique_ptr<Log> OpenLog(LogOptions options) {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, &recovery_);
    EXPECT_THAT(log, IsOk());
    return log.ok() ? *std::move(log) : nullptr;
  }
  std::unique_ptr<Log> OpenLog() { return OpenLog(Options()); }

  // Appends events until next_sequence() is `end`.
  static void AppendUntil(Log* log, uint64_t end, size_t size = 100) {
    for (uint64_t s = log->next_sequence(); s < end; ++s) {
      ASSERT_THAT(log->Append(s, static_cast<int64_t>(s), EventBytes(s, size)),
                  IsOk());
    }
  }

  // Every event from `from` on, checked against EventBytes.
  static std::vector<uint64_t> ReadAll(const Log& log, uint64_t from,
                                       size_t size = 100) {
    std::vector<LogRecord> records;
    EXPECT_THAT(log.Read(from, UINT64_MAX, SIZE_MAX, SIZE_MAX, &records),
                IsOk());
    std::vector<uint64_t> sequences;
    for (const LogRecord& record : records) {
      EXPECT_EQ(record.event, EventBytes(record.sequence, size));
      EXPECT_EQ(record.time_nanos, static_cast<int64_t>(record.sequence));
      sequences.push_back(record.sequence);
    }
    return sequences;
  }

  std::string SegmentPath(uint64_t first) {
    return absl::StrCat(Options().path, "/", Segment::FileName(first));
  }

  testing::TempDir dir_{"eventbus-log-test"};
  FaultFileSystem fs_;
  LogRecovery recovery_;
};

std::vector<uint64_t> Range(uint64_t first, uint64_t end) {
  std::vector<uint64_t> range;
  for (uint64_t s = first; s < end; ++s) range.push_back(s);
  return range;
}

TEST_F(LogTest, ReopenKeepsTheInstanceTheEventsAndTheNumbering) {
  std::string instance;
  {
    std::unique_ptr<Log> log = OpenLog();
    EXPECT_TRUE(recovery_.created);
    EXPECT_EQ(log->first_sequence(), 1u);
    EXPECT_EQ(log->next_sequence(), 1u);
    instance = log->instance_id();
    AppendUntil(log.get(), 101);
    EXPECT_THAT(log->Sync(), testing::IsOkAndHolds(101u));
  }
  std::unique_ptr<Log> log = OpenLog();
  EXPECT_FALSE(recovery_.created);
  EXPECT_THAT(recovery_.losses, IsEmpty());
  EXPECT_EQ(log->instance_id(), instance);
  EXPECT_EQ(log->first_sequence(), 1u);
  EXPECT_EQ(log->next_sequence(), 101u);
  EXPECT_EQ(ReadAll(*log, 1), Range(1, 101));
  EXPECT_THAT(log->Append(101, 101, EventBytes(101)), IsOk());
}

TEST_F(LogTest, OneProcessPerDirectory) {
  std::unique_ptr<Log> log = OpenLog();
  EXPECT_THAT(Log::Open(Options(), &recovery_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("another eventbusd")));
}

TEST_F(LogTest, ReadsFromAnySequenceAcrossSegmentsWithinItsLimits) {
  std::unique_ptr<Log> log = OpenLog();
  AppendUntil(log.get(), 1001, 1000);
  ASSERT_THAT(log->Sync(), IsOk());
  EXPECT_GT(log->segment_count(), 10u);
  std::vector<LogRecord> records;
  ASSERT_THAT(log->Read(237, UINT64_MAX, 5, SIZE_MAX, &records), IsOk());
  ASSERT_THAT(records, SizeIs(5));
  EXPECT_EQ(records.front().sequence, 237u);
  EXPECT_EQ(records.back().sequence, 241u);
  // A byte limit stops after whole events, never before the first.
  records.clear();
  ASSERT_THAT(log->Read(500, UINT64_MAX, 100, 2500, &records), IsOk());
  EXPECT_THAT(records, SizeIs(2));
  records.clear();
  ASSERT_THAT(log->Read(500, UINT64_MAX, 100, 1, &records), IsOk());
  EXPECT_THAT(records, SizeIs(1));
  // `end` bounds it.
  records.clear();
  ASSERT_THAT(log->Read(995, 998, 100, SIZE_MAX, &records), IsOk());
  EXPECT_THAT(records, SizeIs(3));
  // Reopened from the index files: the same, without a scan.
  log.reset();
  log = OpenLog();
  EXPECT_EQ(ReadAll(*log, 1, 1000), Range(1, 1001));
  EXPECT_EQ(ReadAll(*log, 777, 1000), Range(777, 1001));
}

TEST_F(LogTest, ATornTailIsCutOffAndNumberingGoesOn) {
  {
    std::unique_ptr<Log> log = OpenLog();
    AppendUntil(log.get(), 11);
    ASSERT_THAT(log->Sync(), IsOk());
  }
  // Half a record at the end, as a crash in the middle of a write leaves.
  {
    std::ofstream file(SegmentPath(1), std::ios::app | std::ios::binary);
    file << std::string(30, 'x');
  }
  std::unique_ptr<Log> log = OpenLog();
  ASSERT_THAT(recovery_.losses, SizeIs(1));
  EXPECT_THAT(recovery_.losses[0], HasSubstr("torn tail cut off"));
  EXPECT_THAT(recovery_.losses[0], HasSubstr("30 bytes dropped"));
  EXPECT_EQ(log->next_sequence(), 11u);
  EXPECT_EQ(ReadAll(*log, 1), Range(1, 11));
  AppendUntil(log.get(), 12);
  EXPECT_EQ(ReadAll(*log, 1), Range(1, 12));
}

TEST_F(LogTest, ACleanCloseIsTrustedAndLaterAppendsGoToANewSegment) {
  {
    std::unique_ptr<Log> log = OpenLog();
    AppendUntil(log.get(), 11);
    EXPECT_THAT(log->Close(), testing::IsOkAndHolds(11u));
    EXPECT_THAT(log->Close(), testing::IsOkAndHolds(11u));
    EXPECT_THAT(log->Append(11, 11, EventBytes(11)),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("closed")));
  }
  // A byte of event 5 changed in place: the open that trusts the index
  // does not read it, the read that reaches it does.
  {
    std::fstream file(SegmentPath(1),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(16 + 4 * (24 + 100) + 24 + 50);
    file.put('#');
  }
  {
    std::unique_ptr<Log> log = OpenLog();
    EXPECT_THAT(recovery_.losses, IsEmpty());
    EXPECT_EQ(log->next_sequence(), 11u);
    std::vector<LogRecord> records;
    EXPECT_THAT(log->Read(5, UINT64_MAX, SIZE_MAX, SIZE_MAX, &records),
                StatusIs(absl::StatusCode::kDataLoss));
    // The trusted segment is closed now: appends go to a new one, and a
    // crash after them (no Close) cuts nothing acknowledged because of the
    // bad byte in the segment before.
    AppendUntil(log.get(), 21);
    ASSERT_THAT(log->Sync(), IsOk());
    EXPECT_EQ(log->segment_count(), 2u);
  }
  std::unique_ptr<Log> log = OpenLog();
  EXPECT_THAT(recovery_.losses, IsEmpty());
  EXPECT_EQ(log->next_sequence(), 21u);
  EXPECT_EQ(ReadAll(*log, 11), Range(11, 21));
  std::vector<LogRecord> records;
  EXPECT_THAT(log->Read(5, UINT64_MAX, SIZE_MAX, SIZE_MAX, &records),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(LogTest, ANewSegmentTornInItsHeaderGoesAndAppendsGoOn) {
  {
    std::unique_ptr<Log> log = OpenLog();
    AppendUntil(log.get(), 11);
    ASSERT_THAT(log->Sync(), IsOk());
  }
  // A crash while the next segment was being created: half a header.
  {
    std::ofstream file(SegmentPath(11), std::ios::binary);
    file << "EVBU";
  }
  std::unique_ptr<Log> log = OpenLog();
  ASSERT_THAT(recovery_.losses, SizeIs(1));
  EXPECT_THAT(recovery_.losses[0], HasSubstr("it held no event"));
  EXPECT_EQ(log->next_sequence(), 11u);
  AppendUntil(log.get(), 21);
  ASSERT_THAT(log->Sync(), IsOk());
  EXPECT_EQ(ReadAll(*log, 1), Range(1, 21));
}

TEST_F(LogTest, ABadRecordInAClosedSegmentStopsTheStartUnlessRepaired) {
  {
    std::unique_ptr<Log> log = OpenLog();
    AppendUntil(log.get(), 200, 1000);
    ASSERT_THAT(log->Sync(), IsOk());
    ASSERT_GT(log->segment_count(), 2u);
  }
  // Segments hold (64 KiB - 16) / 1024 = 63 events: the second is 64.
  const uint64_t second = 64;
  {
    std::fstream file(SegmentPath(1),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(16 + 10 * 1024 + 100);  // inside event 11
    file.put('!');
  }
  // With its index the start does not read it; a read does, and says where.
  {
    std::unique_ptr<Log> log = OpenLog();
    std::vector<LogRecord> records;
    EXPECT_THAT(log->Read(1, UINT64_MAX, SIZE_MAX, SIZE_MAX, &records),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(absl::StrCat(SegmentPath(1), ": offset ",
                                                16 + 10 * 1024))));
  }
  // Without its index it is scanned at start, which stops.
  ASSERT_EQ(
      std::remove(
          absl::StrCat(Options().path, "/00000000000000000001.idx").c_str()),
      0);
  EXPECT_THAT(Log::Open(Options(), &recovery_),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("set storage.repair: true")));
  LogOptions repair = Options();
  repair.repair = true;
  std::unique_ptr<Log> log = OpenLog(repair);
  ASSERT_THAT(recovery_.losses, SizeIs(1));
  EXPECT_THAT(recovery_.losses[0],
              HasSubstr(absl::StrCat("sequences 11..", second - 1, " lost")));
  std::vector<uint64_t> expected = Range(1, 11);
  for (uint64_t s : Range(second, 200)) expected.push_back(s);
  EXPECT_EQ(ReadAll(*log, 1, 1000), expected);
  // Reading from inside the lost range starts after it.
  EXPECT_EQ(ReadAll(*log, 20, 1000), Range(second, 200));
}

TEST_F(LogTest, RetentionRemovesWholeClosedSegmentsByEventsBytesAndAge) {
  LogOptions options = Options();
  options.max_events = 150;
  std::unique_ptr<Log> log = OpenLog(options);
  AppendUntil(log.get(), 301, 1000);  // 63 per segment
  ASSERT_THAT(log->Sync(), IsOk());
  EXPECT_THAT(log->ApplyRetention(absl::Now()), testing::IsOkAndHolds(3));
  // 300 - 189 = 111 events left: removing one more would go below nothing
  // it must keep, but 111 <= 150 stops it.
  EXPECT_EQ(log->first_sequence(), 190u);
  EXPECT_EQ(ReadAll(*log, 1, 1000), Range(190, 301));
  log.reset();

  options.max_events = 0;
  options.max_bytes = 100 << 10;  // about 1.5 segments
  log = OpenLog(options);
  EXPECT_EQ(log->first_sequence(), 190u);
  ASSERT_THAT(log->ApplyRetention(absl::Now()), IsOk());
  EXPECT_LE(log->size_bytes(), options.max_bytes);
  EXPECT_EQ(log->segment_count(), 1u);  // the active one always stays
  log.reset();

  options.max_bytes = 0;
  options.max_age = absl::Seconds(1);
  log = OpenLog(options);
  AppendUntil(log.get(), 500, 1000);  // publish times are tiny: 1970
  ASSERT_THAT(log->Sync(), IsOk());
  ASSERT_THAT(log->ApplyRetention(absl::Now()), IsOk());
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->next_sequence(), 500u);
}

TEST_F(LogTest, RetentionKeepsWhatAReaderMustStillSend) {
  LogOptions options = Options();
  options.max_events = 50;
  std::unique_ptr<Log> log = OpenLog(options);
  AppendUntil(log.get(), 301, 1000);  // 63 per segment: 1, 64, 127, ...
  ASSERT_THAT(log->Sync(), IsOk());
  // A forwarder has sent up to 100: the segment holding 101 stays.
  EXPECT_THAT(log->ApplyRetention(absl::Now(), /*keep_from=*/101),
              testing::IsOkAndHolds(1));
  EXPECT_EQ(log->first_sequence(), 64u);
  // Once it has sent everything, the limit applies again.
  ASSERT_THAT(log->ApplyRetention(absl::Now(), /*keep_from=*/301), IsOk());
  EXPECT_EQ(log->first_sequence(), 253u);
}

TEST_F(LogTest, APowerFailureLosesNothingSynced) {
  std::string instance;
  uint64_t synced = 0;
  {
    std::unique_ptr<Log> log = OpenLog();
    instance = log->instance_id();
    for (uint64_t batch = 0; batch < 8; ++batch) {
      AppendUntil(log.get(), log->next_sequence() + 97, 700);
      absl::StatusOr<uint64_t> through = log->Sync();
      ASSERT_THAT(through, IsOk());
      synced = *through;
    }
    AppendUntil(log.get(), log->next_sequence() + 150, 700);  // never synced
  }
  fs_.DropUnsyncedData();
  std::unique_ptr<Log> log = OpenLog();
  EXPECT_EQ(log->instance_id(), instance);
  EXPECT_EQ(ReadAll(*log, 1, 700), Range(1, synced));
  EXPECT_EQ(log->next_sequence(), synced);
}

TEST_F(LogTest, AFullDiskFailsTheAppendAndHealsByItself) {
  std::unique_ptr<Log> log = OpenLog();
  AppendUntil(log.get(), 6);
  fs_.SetNoSpace(true);
  EXPECT_THAT(log->Append(6, 6, EventBytes(6)),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("No space left on device")));
  EXPECT_EQ(log->next_sequence(), 6u);
  fs_.SetNoSpace(false);
  AppendUntil(log.get(), 10);
  // Half a record written before the error is cut off again.
  fs_.FailWrite(1, EIO, /*partial=*/true);
  EXPECT_THAT(log->Append(10, 10, EventBytes(10)),
              StatusIs(absl::StatusCode::kUnavailable));
  AppendUntil(log.get(), 12);
  ASSERT_THAT(log->Sync(), IsOk());
  log.reset();
  log = OpenLog();
  EXPECT_THAT(recovery_.losses, IsEmpty());
  EXPECT_EQ(ReadAll(*log, 1), Range(1, 12));
}

TEST_F(LogTest, AFailedSyncStopsTheLogUntilARestart) {
  std::unique_ptr<Log> log = OpenLog();
  AppendUntil(log.get(), 21);
  ASSERT_THAT(log->Sync(), IsOk());
  AppendUntil(log.get(), 31);
  fs_.FailSync(1, EIO);
  EXPECT_THAT(log->Sync(), StatusIs(absl::StatusCode::kUnavailable,
                                    HasSubstr("Input/output error")));
  EXPECT_THAT(log->health(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(log->Append(31, 31, EventBytes(31)),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("until eventbusd restarts")));
  log.reset();
  fs_.DropUnsyncedData();
  log = OpenLog();
  EXPECT_THAT(log->health(), IsOk());
  EXPECT_EQ(ReadAll(*log, 1), Range(1, 21));
  AppendUntil(log.get(), 22);
}

TEST_F(LogTest, AnySegmentBoundaryCrashRecovers) {
  // A crash after each number of writes and syncs: what was synced is
  // there, numbering is gapless, the log opens.
  for (int crash_after = 1; crash_after < 40; crash_after += 3) {
    testing::TempDir dir("eventbus-log-crash");
    LogOptions options = Options();
    options.path = dir.Path("log");
    uint64_t synced = 1;
    {
      absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, &recovery_);
      ASSERT_THAT(log, IsOk());
      fs_.FailWrite(crash_after, EIO);
      for (uint64_t s = 1; s < 400; ++s) {
        if (!(*log)
                 ->Append(s, static_cast<int64_t>(s), EventBytes(s, 1000))
                 .ok()) {
          break;
        }
        if (s % 20 == 0) {
          absl::StatusOr<uint64_t> through = (*log)->Sync();
          ASSERT_THAT(through, IsOk());
          synced = *through;
        }
      }
      fs_.FailWrite(0, 0);
    }
    fs_.DropUnsyncedData();
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, &recovery_);
    ASSERT_THAT(log, IsOk()) << "crash after write " << crash_after;
    const std::vector<uint64_t> read = ReadAll(**log, 1, 1000);
    ASSERT_GE(read.size() + 1, synced) << "crash after write " << crash_after;
    EXPECT_EQ(read, Range(1, read.size() + 1));
    EXPECT_EQ((*log)->next_sequence(), read.size() + 1);
  }
}

}  // namespace
}  // namespace eventbus

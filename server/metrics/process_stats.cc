#include "server/metrics/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace eventbus {
namespace {

std::string ReadWhole(const char* path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The boot time, from /proc/stat's btime line; 0 if absent.
double BootTime() {
  std::ifstream stat("/proc/stat");
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("btime ", 0) == 0) {
      double seconds = 0;
      if (absl::SimpleAtod(line.substr(6), &seconds)) return seconds;
    }
  }
  return 0;
}

int OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the descriptor opendir itself holds
}

}  // namespace

void WriteProcessMetrics(Exposition* page) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  // /proc/self/stat: fields after "(comm)", which may hold spaces.
  const std::string stat = ReadWhole("/proc/self/stat");
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos && ticks > 0) {
    // Field 3 (state) is the first after ")": utime is 14, stime 15,
    // starttime 22, vsize 23, rss 24.
    const std::vector<std::string> fields =
        absl::StrSplit(stat.substr(paren + 2), ' ');
    const auto field = [&](size_t number) {
      double value = 0;
      if (fields.size() > number - 3) {
        (void)absl::SimpleAtod(fields[number - 3], &value);
      }
      return value;
    };
    page->Counter("process_cpu_seconds_total",
                  "Total user and system CPU time spent in seconds.",
                  (field(14) + field(15)) / ticks);
    page->Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                field(23));
    page->Gauge("process_resident_memory_bytes",
                "Resident memory size in bytes.", field(24) * page_bytes);
    if (const double boot = BootTime(); boot > 0) {
      page->Gauge("process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.",
                  boot + field(22) / ticks);
    }
  }
  if (const int fds = OpenFds(); fds >= 0) {
    page->Gauge("process_open_fds", "Number of open file descriptors.", fds);
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    page->Gauge("process_max_fds", "Maximum number of open file descriptors.",
                static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace eventbus

#include "bench/proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace eventbus::bench {
namespace {

double Seconds(const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

}  // namespace

ProcessMemory ReadProcessMemory(pid_t pid) {
  ProcessMemory memory;
  std::ifstream file(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(file, line)) {
    long* target = line.rfind("VmRSS:", 0) == 0   ? &memory.rss_kb
                   : line.rfind("VmHWM:", 0) == 0 ? &memory.hwm_kb
                                                  : nullptr;
    if (target != nullptr) *target = std::atol(line.c_str() + 6);
  }
  return memory;
}

long long ReadProcessWriteBytes(pid_t pid) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/io"));
  std::string line;
  long long bytes = -1;
  while (std::getline(file, line)) {
    if (line.rfind("write_bytes:", 0) == 0) {
      if (!absl::SimpleAtoi(
              absl::StripAsciiWhitespace(absl::string_view(line).substr(12)),
              &bytes)) {
        bytes = -1;
      }
    }
  }
  return bytes;
}

double ReadProcessCpuSeconds(pid_t pid) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/stat"));
  std::stringstream contents;
  contents << file.rdbuf();
  const std::string stat = contents.str();
  // The command name may hold spaces: fields are counted after its ')'.
  const size_t end_of_name = stat.rfind(')');
  if (end_of_name == std::string::npos) return -1;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(end_of_name + 2), ' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
}

HostCpu ReadHostCpu() {
  std::ifstream file("/proc/stat");
  std::string cpu;
  uint64_t ticks[8] = {};
  file >> cpu;
  for (uint64_t& value : ticks) file >> value;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  HostCpu host;
  // user nice system idle iowait irq softirq steal
  host.busy =
      (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) / hz;
  host.total = host.busy + (ticks[3] + ticks[4]) / hz;
  return host;
}

double WaitForQuietHost(double threshold, int max_seconds) {
  double busy = 1;
  for (int i = 0; i < max_seconds; ++i) {
    const HostCpu before = ReadHostCpu();
    sleep(1);
    const HostCpu after = ReadHostCpu();
    busy =
        (after.busy - before.busy) / std::max(1e-9, after.total - before.total);
    if (busy < threshold) break;
  }
  return busy;
}

}  // namespace eventbus::bench

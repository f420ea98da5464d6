// Process and host measurements from /proc and getrusage, as the peers'
// harness takes them: broker memory (VmRSS, VmHWM), broker CPU (utime +
// stime of the whole thread group), this process's CPU, host CPU.
// Thread-safe: every call reads the kernel's current figures.
#ifndef EVENTBUS_BENCH_PROC_STATS_H_
#define EVENTBUS_BENCH_PROC_STATS_H_

#include <sys/types.h>

namespace eventbus::bench {

struct ProcessMemory {
  long rss_kb = -1;  // VmRSS
  long hwm_kb = -1;  // VmHWM: peak RSS since the process started
};
ProcessMemory ReadProcessMemory(pid_t pid);

// utime + stime of `pid` in seconds; -1 when unreadable.
double ReadProcessCpuSeconds(pid_t pid);

// Bytes `pid` caused to be written to storage (write_bytes of
// /proc/PID/io); -1 when unreadable.
long long ReadProcessWriteBytes(pid_t pid);

// User + system CPU of this process (all threads), in seconds.
double SelfCpuSeconds();

// Host CPU from /proc/stat, seconds summed over cores.
struct HostCpu {
  double busy = 0;   // user + nice + system + irq + softirq + steal
  double total = 0;  // busy + idle + iowait
};
HostCpu ReadHostCpu();

// Waits, at most `max_seconds`, until the host is less than `threshold`
// busy (a fraction of all cores) over one second; returns the last fraction.
double WaitForQuietHost(double threshold, int max_seconds);

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_PROC_STATS_H_

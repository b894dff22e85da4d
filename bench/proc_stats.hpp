// What a server costs during a measured phase: its CPU time and (sampled) peak memory.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "../broker/proc_stats.hpp"

namespace forest::bench {

using broker::process_rss_bytes;

// A process's CPU time so far, and how fine the source is. /proc/<pid>/stat counts in clock
// ticks (10 ms here), so a short run shows 0.000 s; the kernel keeps nanoseconds per thread
// (sum_exec_runtime), which the process CPU clock (clock_getcpuclockid) and
// /proc/<pid>/task/*/schedstat expose. Sources, finest first: the CPU clock (it includes
// threads that have exited), the schedstat sum (misses exited threads), stat ticks.
struct CpuTime {
  double seconds = 0;
  double resolution_s = 0;  // a difference smaller than this is "below resolution", not zero
  const char* source = "none";
};
[[nodiscard]] CpuTime process_cpu(pid_t pid);

// Samples a process's RSS every few milliseconds while alive; peak() is the maximum seen.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid);
  ~RssSampler();
  [[nodiscard]] int64_t peak() const { return peak_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_{0};
  std::thread thread_;
};

}  // namespace forest::bench

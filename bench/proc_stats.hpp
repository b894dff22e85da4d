// CPU time and memory of a process, from /proc: what a server costs during a measured phase.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace forest::bench {

// utime + stime of a process, in seconds.
double process_cpu_seconds(pid_t pid);
// Current resident set size, in bytes.
int64_t process_rss_bytes(pid_t pid);

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

// What a server costs during a measured phase: its CPU time and (sampled) peak memory.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "../broker/proc_stats.hpp"

namespace forest::bench {

using broker::process_cpu_seconds;
using broker::process_rss_bytes;

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

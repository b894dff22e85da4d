#include "proc_stats.hpp"

#include <unistd.h>

#include <chrono>

namespace forest::bench {

RssSampler::RssSampler(pid_t pid) {
  thread_ = std::thread([this, pid] {
    while (!stop_.load()) {
      const int64_t rss = process_rss_bytes(pid);
      if (rss > peak_.load()) peak_.store(rss);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
}

RssSampler::~RssSampler() {
  stop_.store(true);
  thread_.join();
}

}  // namespace forest::bench

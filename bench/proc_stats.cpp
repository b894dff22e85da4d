#include "proc_stats.hpp"

#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

namespace forest::bench {
namespace {

// Sum of the first schedstat field (ns on CPU) over the process's live threads; -1 if unavailable.
double schedstat_seconds(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return -1;
  double ns = 0;
  bool any = false;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(dir + "/" + e->d_name + "/schedstat");
    double on_cpu = 0;
    if (f >> on_cpu) {
      ns += on_cpu;
      any = true;
    }
  }
  ::closedir(d);
  return any ? ns / 1e9 : -1;
}

}  // namespace

CpuTime process_cpu(pid_t pid) {
  clockid_t clock{};
  timespec ts{};
  if (::clock_getcpuclockid(pid, &clock) == 0 && ::clock_gettime(clock, &ts) == 0) {
    timespec res{0, 1};
    (void)::clock_getres(clock, &res);
    return {static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9,
            static_cast<double>(res.tv_sec) + static_cast<double>(res.tv_nsec) / 1e9, "cpu clock"};
  }
  if (const double s = schedstat_seconds(pid); s >= 0) return {s, 1e-9, "schedstat"};
  return {broker::process_cpu_seconds(pid), 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK)), "stat ticks"};
}

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

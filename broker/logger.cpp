#include "logger.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace forest::broker {

Logger::~Logger() {
  if (file_ != nullptr) std::fclose(file_);
}

bool Logger::open(const std::string& path, std::string* error) {
  std::FILE* f = nullptr;
  if (!path.empty()) {
    f = std::fopen(path.c_str(), "a");
    if (f == nullptr) {
      if (error != nullptr) *error = "cannot open log file '" + path + "': " + std::strerror(errno);
      return false;
    }
  }
  std::lock_guard lock(mu_);
  if (file_ != nullptr) std::fclose(file_);
  file_ = f;
  return true;
}

void Logger::write(std::string_view label, std::string_view text) {
  if (sink_) {
    sink_(label, text);
    return;
  }
  std::string line = fmt::format("[{}] ", ::getpid());
  if (logtime_.load(std::memory_order_relaxed)) {
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    std::tm tm{};
    ::localtime_r(&tv.tv_sec, &tm);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y/%m/%d %H:%M:%S", &tm);
    line.append(buf, n);
    line.append(fmt::format(".{:06d} ", static_cast<long>(tv.tv_usec)));
  }
  line.append(label);
  line.append(text);
  line.push_back('\n');
  std::lock_guard lock(mu_);
  std::FILE* out = file_ != nullptr ? file_ : stderr;
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace forest::broker

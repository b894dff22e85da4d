#include "socket_closer.hpp"

#include <unistd.h>

namespace forest::broker {

SocketCloser::SocketCloser() : thread_([this] { run(); }) {}

SocketCloser::~SocketCloser() { stop(); }

void SocketCloser::close_later(int fd) {
  if (fd < 0) return;
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(fd);
      if (queue_.size() == 1) cv_.notify_one();
      return;
    }
  }
  ::close(fd);
}

void SocketCloser::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SocketCloser::run() {
  std::vector<int> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      batch.swap(queue_);
    }
    for (int fd : batch) ::close(fd);
    batch.clear();
  }
}

}  // namespace forest::broker

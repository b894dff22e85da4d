#include "discovery/registry_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <random>
#include <thread>
#include <utility>

#include "discovery/file_io.hpp"

namespace forest::discovery {

namespace {

std::string make_token() {
  static std::atomic<unsigned> counter{0};
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  return std::to_string(::getpid()) + "@" + host + " " + std::to_string(rd()) + "-" +
         std::to_string(counter.fetch_add(1));
}

// Creates the lock file exclusively. 1: created; 0: it exists; -1: another error (errno).
int try_create(const std::string& path, const std::string& token) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno == EEXIST ? 0 : -1;
  const std::string line = token + "\n";
  // Best effort: the lock is the file's existence; the text only helps a human and release().
  (void)!::write(fd, line.data(), line.size());
  ::close(fd);
  return 1;
}

std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::string lock_path_for(const std::string& registry_path) { return registry_path + ".lock"; }

std::expected<RegistryLock, Error> RegistryLock::acquire(const std::string& registry_path, const LockOptions& options) {
  using clock = std::chrono::steady_clock;
  RegistryLock lock;
  lock.path_ = lock_path_for(registry_path);
  lock.token_ = make_token();

  std::chrono::milliseconds budget{0};
  for (int i = 0; i < options.attempts; ++i) budget += options.first_backoff * (1LL << std::min(i, 30));
  const auto deadline = clock::now() + budget;
  std::minstd_rand jitter(std::random_device{}());
  for (;;) {
    const int r = try_create(lock.path_, lock.token_);
    if (r == 1) {
      lock.held_ = true;
      return lock;
    }
    if (r < 0) return std::unexpected(io_error(lock.path_, "cannot create lock file", errno));
    const auto now = clock::now();
    if (now >= deadline) break;
    // A little jitter so two of our writers polling in step do not collide forever.
    const auto pause = options.poll + std::chrono::microseconds(jitter() % 1000);
    std::this_thread::sleep_for(std::min<clock::duration>(pause, deadline - now));
  }

  // The Go rule: after the deadline, the lock is presumed abandoned and taken over.
  if (auto held = read_file(lock.path_); held && held->has_value()) lock.previous_holder_ = trim_newline((*held)->bytes);
  if (::unlink(lock.path_.c_str()) != 0 && errno != ENOENT) {
    return std::unexpected(io_error(lock.path_, "cannot remove stale lock file", errno));
  }
  const int r = try_create(lock.path_, lock.token_);
  if (r == 1) {
    lock.held_ = true;
    lock.forced_ = true;
    return lock;
  }
  if (r < 0) return std::unexpected(io_error(lock.path_, "cannot create lock file", errno));
  return std::unexpected(Error{Errc::lock, lock.path_, 0, 0,
                               "another writer took the lock while we were taking it by force; try again"});
}

RegistryLock::RegistryLock(RegistryLock&& other) noexcept
    : path_(std::move(other.path_)),
      token_(std::move(other.token_)),
      held_(std::exchange(other.held_, false)),
      forced_(other.forced_),
      previous_holder_(std::move(other.previous_holder_)) {}

RegistryLock& RegistryLock::operator=(RegistryLock&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    token_ = std::move(other.token_);
    held_ = std::exchange(other.held_, false);
    forced_ = other.forced_;
    previous_holder_ = std::move(other.previous_holder_);
  }
  return *this;
}

RegistryLock::~RegistryLock() { release(); }

void RegistryLock::release() {
  if (!held_) return;
  held_ = false;
  // If someone forced the lock away from us, the file is theirs now: leave it. (A takeover
  // between this read and the unlink is possible but needs ~10 s of us stalling right here.)
  auto current = read_file(path_);
  if (!current || !current->has_value() || trim_newline((*current)->bytes) != token_) return;
  ::unlink(path_.c_str());
}

}  // namespace forest::discovery

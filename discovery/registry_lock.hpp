// The registry's writer lock, compatible with the Go app's: a file `<registry>.lock` created
// with O_CREAT|O_EXCL, tried 10 times with a backoff of 10 ms × 2^i, then taken by force.
//
// Why force is risky: after ~10 s the lock is removed whoever holds it, so a writer that is
// merely slow (a CIFS share stalling, a paused VM) and one that forces can both rewrite the
// file, and the update of the first to finish is lost. The Go app does it so that a writer that
// crashed while holding the lock does not block registration forever; we must do the same, or
// a Go node and ours would disagree about who owns the file. What we do to keep the window
// small: we hold the lock only around read-modify-rename (milliseconds); we try again every few
// milliseconds between the Go schedule's tries (same deadline, so a Go writer sees no
// difference, but a short gap between two other writers is not missed, which would push us
// into forcing); we write our pid, host and a token into the lock file and on release remove
// it only if it still holds our token, so after a takeover we never delete the new owner's lock;
// and a forced acquisition is reported to the caller, who says so.
#pragma once

#include <chrono>
#include <expected>
#include <string>

#include "discovery/error.hpp"

namespace forest::discovery {

struct LockOptions {
  int attempts = 10;                                    // the Go schedule: tries ...
  std::chrono::milliseconds first_backoff{10};          // ... with sleeps of first_backoff × 2^i
  std::chrono::milliseconds poll{2};                    // our extra tries in between
};

// Owned by one thread; move-only; released on destruction.
class RegistryLock {
 public:
  [[nodiscard]] static std::expected<RegistryLock, Error> acquire(const std::string& registry_path,
                                                                 const LockOptions& options = {});

  RegistryLock(RegistryLock&& other) noexcept;
  RegistryLock& operator=(RegistryLock&& other) noexcept;
  RegistryLock(const RegistryLock&) = delete;
  RegistryLock& operator=(const RegistryLock&) = delete;
  ~RegistryLock();

  // True when the lock was taken by force after the deadline.
  [[nodiscard]] bool forced() const { return forced_; }
  // What the forced lock file said (our format: "pid@host token"; Go's lock files are empty).
  [[nodiscard]] const std::string& previous_holder() const { return previous_holder_; }
  [[nodiscard]] const std::string& path() const { return path_; }

  // Removes the lock file if it is still ours.
  void release();

 private:
  RegistryLock() = default;
  std::string path_;
  std::string token_;
  bool held_ = false;
  bool forced_ = false;
  std::string previous_holder_;
};

// "<registry>.lock", as the Go app names it.
[[nodiscard]] std::string lock_path_for(const std::string& registry_path);

}  // namespace forest::discovery

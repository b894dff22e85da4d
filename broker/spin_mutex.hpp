// A mutex for critical sections of a few dozen instructions taken by two threads at a high
// rate (a publisher appending to a queue, the consumer swapping it out). std::mutex puts the
// loser to sleep in the kernel (futex wait, then a futex wake for the winner's unlock): two
// system calls and a context switch to save a wait shorter than either. This one spins,
// briefly, then yields the processor, so that a holder preempted mid-section (2 cores, more
// threads) gets to run and finish.
//
// Meets the Lockable requirements (std::lock_guard, std::unique_lock). Not for sections that
// block, allocate much or run callbacks.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace forest::broker {

class SpinMutex {
 public:
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      // Test before test-and-set: waiting readers share the line instead of bouncing it.
      if (!locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire)) return;
      if (spins < kSpinsBeforeYield) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

  static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }

  // Spins until `done()` holds or `timeout` passed; true when it held. Reads the clock and
  // yields the processor every 32 spins, so that on a busy machine the thread being waited
  // for gets to run. For waits expected to end within microseconds (cheaper than a wake-up).
  template <class Done>
  static bool spin_until(Done&& done, std::chrono::nanoseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (int spins = 1; !done(); ++spins) {
      if (spins % 32 == 0) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::yield();
      } else {
        cpu_relax();
      }
    }
    return true;
  }

 private:
  static constexpr int kSpinsBeforeYield = 128;
  std::atomic<bool> locked_{false};
};

}  // namespace forest::broker

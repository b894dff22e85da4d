// Gives memory that bursts left free back to the kernel, on a slow timer.
//
// forest-server's main tells glibc to keep freed memory (a fan-out burst re-faults every page
// otherwise: measured a fifth of its CPU). That keeps the peak of a burst resident for good;
// this check, run every 500 ms on the server's control thread, trims the heap once more
// than `threshold` bytes sit free in it, so a 96 MiB slow-subscriber burst does not leave
// 96 MiB behind while bursts in quick succession still reuse their memory.
#pragma once

#include <cstddef>

namespace forest::broker {

// Bytes free inside the allocator's arenas (not yet returned to the kernel).
[[nodiscard]] std::size_t allocator_free_bytes();

// Trims when more than `threshold` bytes are free; returns whether it trimmed.
bool trim_free_memory(std::size_t threshold);

}  // namespace forest::broker

// CPU time and resident memory of a process, read from /proc (Linux). Used by /varz for this
// process and by forest-bench for the servers it measures.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace forest::broker {

// utime + stime, in seconds.
[[nodiscard]] double process_cpu_seconds(pid_t pid);
// Resident set size, in bytes.
[[nodiscard]] int64_t process_rss_bytes(pid_t pid);

}  // namespace forest::broker

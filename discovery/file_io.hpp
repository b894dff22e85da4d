// Whole-file reads and atomic replacement, the only file I/O of the library. Both work on
// the CIFS share the registry lives on (no mmap, no inotify, no locks of the kernel's).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "discovery/error.hpp"

namespace forest::discovery {

// A file's bytes and the attributes the registry watcher compares between polls.
struct FileSnapshot {
  std::string bytes;
  std::int64_t mtime_ns = 0;
  std::uint64_t size = 0;  // as fstat reported it when the file was opened
};

// Registry and node-info files are a few KiB; anything past this is not one of ours.
inline constexpr std::size_t kMaxFileBytes = 16u * 1024 * 1024;

// nullopt when the file does not exist (ENOENT, or a missing directory on the way); an Error
// for every other failure, including a directory or a file larger than max_bytes.
[[nodiscard]] std::expected<std::optional<FileSnapshot>, Error> read_file(const std::string& path,
                                                                        std::size_t max_bytes = kMaxFileBytes);

// Replaces `path` with `bytes` so that readers see the old file or the new one, never a part:
// a temporary file in the same directory (rename is atomic only within one filesystem),
// written, fsync'ed, given `mode`, then renamed over the target; the directory is fsync'ed
// where the filesystem supports it. A symlink at `path` is followed, not replaced.
[[nodiscard]] std::expected<void, Error> write_file_atomically(const std::string& path, std::string_view bytes,
                                                               mode_t mode);

}  // namespace forest::discovery

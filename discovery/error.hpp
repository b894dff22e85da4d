// Errors of the discovery library: what went wrong, in which file, and where in it.
// Returned by value inside std::expected; nothing in discovery/ throws across its API.
#pragma once

#include <cstddef>
#include <string>

namespace forest::discovery {

enum class Errc {
  io,      // the file exists but could not be read or written (permissions, EIO, a directory...)
  syntax,  // not well-formed JSON (empty, truncated, garbage)
  schema,  // well-formed JSON of the wrong shape (wrong types, missing keys, empty ids)
  lock,    // the registry lock could not be taken
  usage,   // bad arguments to a registry command
};

struct Error {
  Errc code = Errc::io;
  std::string file;         // the file concerned; empty when none
  std::size_t line = 0;     // 1-based; 0 when the error has no position (I/O, lock)
  std::size_t column = 0;   // 1-based, in characters (UTF-8 code points)
  std::string message;

  // "path:line:column: message", or "path: message" when there is no position, so an editor
  // or a human can jump to the spot.
  [[nodiscard]] std::string to_string() const;
};

[[nodiscard]] Error io_error(const std::string& file, const std::string& what, int errno_value);

}  // namespace forest::discovery

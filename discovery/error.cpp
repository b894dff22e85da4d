#include "discovery/error.hpp"

#include <cstring>

namespace forest::discovery {

std::string Error::to_string() const {
  std::string out = file.empty() ? std::string("<discovery>") : file;
  if (line != 0) {
    // Appended piece by piece: "literal" + std::to_string() trips GCC 12's -Wrestrict.
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column);
  }
  out += ": ";
  out += message;
  return out;
}

Error io_error(const std::string& file, const std::string& what, int errno_value) {
  return Error{Errc::io, file, 0, 0, what + ": " + std::strerror(errno_value)};
}

}  // namespace forest::discovery

#include "memory_trim.hpp"

#include <malloc.h>

namespace forest::broker {

std::size_t allocator_free_bytes() {
  const struct mallinfo2 mi = ::mallinfo2();
  return mi.fordblks;
}

bool trim_free_memory(std::size_t threshold) {
  if (allocator_free_bytes() <= threshold) return false;
  ::malloc_trim(0);
  return true;
}

}  // namespace forest::broker

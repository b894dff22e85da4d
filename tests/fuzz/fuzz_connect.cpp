// libFuzzer target for CONNECT's JSON reader (broker/connect_options.*): any bytes a client
// sends after "CONNECT " must give true or false, never a crash or a read past the input.
// Built by run.sh with clang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "connect_options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  forest::broker::ConnectOptions f;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  if (forest::broker::parse_connect(json, f)) {
    // Whatever was read is a whole string taken from the input.
    if (f.user.size() > size || f.pass.size() > size || f.sig.size() > size) __builtin_trap();
  }
  return 0;
}

// libFuzzer target for the JetStream API's request readers (stream and consumer configs, paged
// and purge requests): any bytes a client publishes to $JS.API must give a value or an error,
// never a crash. The first byte picks the reader. Built by run.sh with clang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "jetstream/api_request.hpp"
#include "jetstream/consumer_config.hpp"
#include "jetstream/stream_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  namespace js = forest::broker::js;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0: (void)js::parse_stream_config(body); break;
    case 1: (void)js::parse_consumer_config(body); break;
    case 2: (void)js::parse_consumer_create(body); break;
    case 3: (void)js::parse_paged_filter(body); break;
    case 4: (void)js::parse_stream_info_request(body); break;
    default: (void)js::parse_purge_request(body); break;
  }
  return 0;
}

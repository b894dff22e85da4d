// libFuzzer target for the protocol parser (client and route sides). The first byte picks the
// side and a split point, so split reads are fuzzed too. Built by run.sh with clang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/parser.hpp"

namespace {

class Sink : public forest::protocol::ParserHandler {
 public:
  bool on_connect(std::string_view j) override { return touch(j); }
  bool on_info(std::string_view j) override { return touch(j); }
  bool on_message(const forest::protocol::MessageArgs& a, std::string_view p) override {
    // The payload must be exactly what the control line announced.
    if (static_cast<int64_t>(p.size()) != a.total_size) __builtin_trap();
    if (a.header_size > a.total_size) __builtin_trap();
    return touch(a.subject) && touch(p);
  }
  bool on_sub(std::string_view s, std::string_view q, std::string_view sid) override { return touch(s) && touch(q) && touch(sid); }
  bool on_unsub(std::string_view sid, int64_t) override { return touch(sid); }
  bool on_ping() override { return true; }
  bool on_pong() override { return true; }
  bool on_ok() override { return true; }
  bool on_err(std::string_view t) override { return touch(t); }
  bool on_remote_sub(const forest::protocol::RemoteSubArgs& r) override { return touch(r.subject); }
  bool on_remote_unsub(const forest::protocol::RemoteSubArgs& r) override { return touch(r.subject); }

 private:
  // Reads every byte of a view, so the sanitizer sees any view that points past its buffer.
  bool touch(std::string_view v) {
    for (char c : v) sum_ += static_cast<unsigned char>(c);
    return true;
  }
  unsigned sum_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t control = data[0];
  const auto kind = (control & 1) != 0 ? forest::protocol::PeerKind::route : forest::protocol::PeerKind::client;
  forest::protocol::Parser parser(kind, forest::protocol::ParserLimits{.max_control_line = 256, .max_payload = 4096});
  parser.set_headers_allowed((control & 2) != 0);
  Sink sink;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t split = input.empty() ? 0 : (control >> 2) % (input.size() + 1);
  if (parser.feed(input.substr(0, split), sink) == forest::protocol::ParseStatus::ok) {
    (void)parser.feed(input.substr(split), sink);
  }
  return 0;
}

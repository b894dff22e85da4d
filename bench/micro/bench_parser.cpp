// Parser micro-benchmarks: a read buffer full of PUBs (16 B and 1 KiB payloads), SUBs, and the
// same buffer cut into 1 KiB reads.
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>

#include <string>

#include "protocol/parser.hpp"

using namespace forest::protocol;

namespace {

class CountingHandler : public ParserHandler {
 public:
  uint64_t messages = 0, bytes = 0, subs = 0;
  bool on_connect(std::string_view) override { return true; }
  bool on_info(std::string_view) override { return true; }
  bool on_message(const MessageArgs&, std::string_view p) override {
    ++messages;
    bytes += p.size();
    return true;
  }
  bool on_sub(std::string_view, std::string_view, std::string_view) override {
    ++subs;
    return true;
  }
  bool on_unsub(std::string_view, int64_t) override { return true; }
  bool on_ping() override { return true; }
  bool on_pong() override { return true; }
  bool on_ok() override { return true; }
  bool on_err(std::string_view) override { return true; }
};

std::string pubs(std::size_t payload, std::size_t count) {
  std::string out;
  const std::string body(payload, 'x');
  for (std::size_t i = 0; i < count; ++i) {
    out += "PUB orders.eu.new ";
    out += std::to_string(payload);
    out += "\r\n";
    out += body;
    out += "\r\n";
  }
  return out;
}

}  // namespace

TEST_CASE("parser throughput", "[micro][parser]") {
  const std::string small = pubs(16, 2000);
  const std::string large = pubs(1024, 60);
  std::string subs;
  for (int i = 0; i < 1000; ++i) {
    subs += "SUB orders.";
    subs += std::to_string(i);
    subs += ".* workers ";
    subs += std::to_string(i);
    subs += "\r\n";
  }

  BENCHMARK("2000 x PUB 16 B in one buffer") {
    Parser p(PeerKind::client);
    CountingHandler h;
    (void)p.feed(small, h);
    return h.messages;
  };
  BENCHMARK("60 x PUB 1 KiB in one buffer") {
    Parser p(PeerKind::client);
    CountingHandler h;
    (void)p.feed(large, h);
    return h.messages;
  };
  BENCHMARK("2000 x PUB 16 B in 1 KiB reads") {
    Parser p(PeerKind::client);
    CountingHandler h;
    for (std::size_t off = 0; off < small.size(); off += 1024) (void)p.feed(std::string_view(small).substr(off, 1024), h);
    return h.messages;
  };
  BENCHMARK("1000 x SUB with queue") {
    Parser p(PeerKind::client);
    CountingHandler h;
    (void)p.feed(subs, h);
    return h.subs;
  };
}

// The hostile benchmark's measuring tools against scripted peers: HTTP framing, the NATS
// handshake, the bystander's stall / silence / disconnect accounting, and CPU resolution.
// These check the instrument, not a server: the only timing asserted is what the peer scripts.
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "../probes.hpp"
#include "../proc_stats.hpp"
#include "../sock.hpp"
#include "fake_peer.hpp"

using forest::bench::test::FakePeer;
namespace sock = forest::bench::sock;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// A NATS server's side of the handshake: INFO, then CONNECT and PING in, PONG out.
void serve_handshake(int fd) {
  FakePeer::write_all(fd, "INFO {\"server_id\":\"fake\"}\r\n");
  FakePeer::read_until(fd, "PING\r\n");
  FakePeer::write_all(fd, "PONG\r\n");
}

}  // namespace

TEST_CASE("http_get frames Content-Length, chunked and close-delimited bodies on one connection", "[bench]") {
  FakePeer peer([](int fd) {
    FakePeer::read_until(fd, "\r\n\r\n", 1);
    FakePeer::write_all(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot");
    std::this_thread::sleep_for(20ms);  // the body arrives in two reads
    FakePeer::write_all(fd, " found");
    FakePeer::read_until(fd, "\r\n\r\n", 1);
    FakePeer::write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
    FakePeer::read_until(fd, "\r\n\r\n", 1);
    FakePeer::write_all(fd, "HTTP/1.0 200 OK\r\n\r\nuntil close");
  });
  std::string error;
  const auto deadline = Clock::now() + 5s;
  sock::Fd fd = sock::connect("127.0.0.1", peer.port(), deadline, &error);
  REQUIRE(fd.valid());
  sock::HttpResponse r;
  REQUIRE(sock::http_get(fd.get(), "/a", true, deadline, &r) == sock::Status::ok);
  CHECK(r.status == 404);
  CHECK(r.body == "not found");
  CHECK_FALSE(r.close);
  REQUIRE(sock::http_get(fd.get(), "/b", true, deadline, &r) == sock::Status::ok);
  CHECK(r.status == 200);
  CHECK(r.body == "abcdefg");
  CHECK_FALSE(r.close);
  REQUIRE(sock::http_get(fd.get(), "/c", true, deadline, &r) == sock::Status::ok);
  CHECK(r.body == "until close");
  CHECK(r.close);
}

TEST_CASE("a peer that never answers is a timeout at the deadline, not a hang", "[bench]") {
  FakePeer peer([](int fd) { FakePeer::read_until(fd, "never"); });
  std::string error;
  sock::Fd fd = sock::connect("127.0.0.1", peer.port(), Clock::now() + 5s, &error);
  REQUIRE(fd.valid());
  const auto start = Clock::now();
  sock::HttpResponse r;
  CHECK(sock::http_get(fd.get(), "/", true, start + 200ms, &r) == sock::Status::timeout);
  CHECK(Clock::now() - start < 2s);
  ::shutdown(fd.get(), SHUT_RDWR);  // lets the peer's read end
}

TEST_CASE("nats_handshake answers an early server PING and reports -ERR", "[bench]") {
  std::string seen;
  {
    FakePeer peer([&](int fd) {
      FakePeer::write_all(fd, "INFO {}\r\n");
      FakePeer::read_until(fd, "PING\r\n");
      FakePeer::write_all(fd, "PING\r\nPONG\r\n");
      seen = FakePeer::read_until(fd, "PONG\r\n");
    });
    std::string error;
    const auto deadline = Clock::now() + 5s;
    sock::Fd fd = sock::connect("127.0.0.1", peer.port(), deadline, &error);
    REQUIRE(fd.valid());
    CHECK(sock::nats_handshake(fd.get(), deadline, &error) == sock::Status::ok);
  }
  CHECK(seen == "PONG\r\n");
  FakePeer refusing([](int fd) {
    FakePeer::write_all(fd, "INFO {}\r\n");
    FakePeer::read_until(fd, "PING\r\n");
    FakePeer::write_all(fd, "-ERR 'Authorization Violation'\r\n");
  });
  std::string error;
  const auto deadline = Clock::now() + 5s;
  sock::Fd fd = sock::connect("127.0.0.1", refusing.port(), deadline, &error);
  REQUIRE(fd.valid());
  CHECK(sock::nats_handshake(fd.get(), deadline, &error) == sock::Status::error);
  CHECK(error == "-ERR 'Authorization Violation'");
}

TEST_CASE("the bystander measures a stall in full, from the PING's send time", "[bench]") {
  FakePeer peer([](int fd) {
    serve_handshake(fd);
    // Answer 20 PINGs at once, then hold the next answers back for 300 ms, then answer the rest.
    int answered = 0;
    std::string in;
    char buf[4096];
    const auto stop = Clock::now() + 3s;
    while (Clock::now() < stop) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
      for (auto at = in.find("PING\r\n"); at != std::string::npos; at = in.find("PING\r\n")) {
        in.erase(at, 6);
        if (++answered == 20) std::this_thread::sleep_for(300ms);
        FakePeer::write_all(fd, "PONG\r\n");
      }
    }
  });
  forest::bench::Bystander b("127.0.0.1", peer.port(), 5ms);
  const auto start = Clock::now();
  std::this_thread::sleep_for(800ms);
  const auto end = Clock::now();
  const auto s = b.finish(start, end, end + 2s);
  REQUIRE(s.measured);
  CHECK(s.samples > 50);
  CHECK(s.unanswered == 0);
  CHECK_FALSE(s.worst_is_lower_bound);
  CHECK(s.worst_ns >= 280'000'000);
  CHECK(s.worst_ns < 2'000'000'000);
  CHECK(s.p50_ns < s.worst_ns);
}

TEST_CASE("PINGs a server never answers are counted, and the worst is a lower bound", "[bench]") {
  FakePeer peer([](int fd) {
    serve_handshake(fd);
    FakePeer::read_until(fd, "never");
  });
  forest::bench::Bystander b("127.0.0.1", peer.port(), 5ms);
  const auto start = Clock::now();
  std::this_thread::sleep_for(200ms);
  const auto end = Clock::now();
  const auto s = b.finish(start, end, end + 200ms);
  REQUIRE(s.measured);
  CHECK(s.samples == 0);
  CHECK(s.unanswered > 10);
  CHECK(s.worst_is_lower_bound);
  CHECK(s.worst_ns >= 200'000'000);
}

TEST_CASE("a bystander the server disconnects says so", "[bench]") {
  FakePeer peer([](int fd) {
    serve_handshake(fd);
    std::this_thread::sleep_for(50ms);
  });
  forest::bench::Bystander b("127.0.0.1", peer.port(), 5ms);
  const auto start = Clock::now();
  std::this_thread::sleep_for(300ms);
  const auto end = Clock::now();
  const auto s = b.finish(start, end, end + 200ms);
  CHECK(s.disconnected);
}

TEST_CASE("server CPU is read finer than /proc/<pid>/stat's clock ticks", "[bench]") {
  const auto before = forest::bench::process_cpu(::getpid());
  CHECK(before.resolution_s < 1e-3);
  // Burn 3 ms of this thread's CPU: less than one 10 ms tick, which stat would show as 0 or 10 ms.
  timespec t0{}, t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  volatile uint64_t x = 0;
  do {
    for (int i = 0; i < 10000; ++i) x = x + static_cast<uint64_t>(i);
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1'000'000'000L + (t.tv_nsec - t0.tv_nsec) < 3'000'000);
  const double used = forest::bench::process_cpu(::getpid()).seconds - before.seconds;
  CHECK(used >= 0.003);
  CHECK(used < 1.0);
}

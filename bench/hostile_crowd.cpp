// Attacks by a crowd of connections, all driven from one thread with poll(): a connect storm,
// and slowloris on the client and the monitoring port (lines dribbled byte by byte, never ended).
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include <fmt/format.h>

#include "hostile.hpp"
#include "sock.hpp"

namespace forest::bench {
namespace {

using Clock = std::chrono::steady_clock;
using hostile::scaled;
using hostile::seconds_since;

// Handshakes in flight at once during the storm: far more than any client library opens at
// once, but under the listen backlog (somaxconn, 4096 here), so what is measured is the
// server accepting and handshaking, not the kernel dropping SYNs and clients retrying.
constexpr std::size_t kStormInFlight = 500;
constexpr auto kDribbleInterval = std::chrono::milliseconds(100);

enum class Stage { connecting, want_info, want_pong };

struct Handshake {
  sock::Fd fd;
  Stage stage = Stage::connecting;
  std::string in;
};

// Advances one handshake after poll said it is ready; false when it failed.
bool advance(Handshake& h) {
  if (h.stage == Stage::connecting) {
    if (sock::connect_result(h.fd.get()) != 0) return false;
    h.stage = Stage::want_info;
    return true;
  }
  const sock::Status st = sock::recv_some(h.fd.get(), h.in, 4096, Clock::now());
  if (st == sock::Status::timeout) return true;  // spurious wake-up
  if (st != sock::Status::ok) return false;
  if (h.stage == Stage::want_info && h.in.find("\r\n") != std::string::npos) {
    if (h.in.rfind("INFO ", 0) != 0) return false;
    h.in.clear();
    h.stage = Stage::want_pong;
    // Small enough for an empty socket buffer: never blocks.
    return sock::send_all(h.fd.get(), "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n",
                          Clock::now() + std::chrono::seconds(1)) == sock::Status::ok;
  }
  return true;
}

// The bench needs a descriptor per connection (main raises the soft limit to the hard one):
// refuse up front rather than report EMFILE as connections the server failed.
bool enough_fds(int64_t n, AttackOutcome* out) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= static_cast<rlim_t>(n + 256)) return true;
  out->error = fmt::format("RLIMIT_NOFILE is {}: {} connections need at least {}", r.rlim_cur, n, n + 256);
  return false;
}

// Opens `n` plain TCP connections to `port` (connected, nothing sent); stops at the deadline.
std::vector<sock::Fd> open_plain(const AttackTarget& t, int port, int64_t n, std::string* error) {
  std::vector<sock::Fd> conns;
  conns.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n && Clock::now() < t.deadline; ++i) {
    sock::Fd fd = sock::connect(t.host, port, std::min(t.deadline, Clock::now() + std::chrono::seconds(5)), error);
    if (!fd.valid()) break;
    conns.push_back(std::move(fd));
  }
  return conns;
}

// Every 100 ms, sends each open connection the next byte of `line` (then 'x' forever: the line
// never ends), and notices connections the server closes. Runs for `duration`.
AttackOutcome dribble(const AttackTarget& t, int port, int64_t n, const std::string& line, std::chrono::milliseconds duration) {
  AttackOutcome out;
  if (!enough_fds(n, &out)) return out;
  const auto start = Clock::now();
  std::string error;
  std::vector<sock::Fd> conns = open_plain(t, port, n, &error);
  out.figures.push_back({"connections opened", static_cast<double>(conns.size()), Unit::count});
  out.figures.push_back({"opening", seconds_since(start), Unit::seconds});
  if (static_cast<int64_t>(conns.size()) < n) {
    out.error = fmt::format("opened {} of {} connections: {}", conns.size(), n, error);
    return out;
  }
  int64_t closed_by_server = 0, bytes_each = 0;
  const auto dribble_end = std::min(t.deadline, Clock::now() + duration);
  auto next = Clock::now();
  std::string discard;
  while (Clock::now() < dribble_end) {
    std::this_thread::sleep_until(next);
    next += kDribbleInterval;
    const char byte = static_cast<std::size_t>(bytes_each) < line.size() ? line[static_cast<std::size_t>(bytes_each)] : 'x';
    ++bytes_each;
    for (auto& fd : conns) {
      if (!fd.valid()) continue;
      // Read and drop what the server sent (INFO, PING); a close or reset means it gave up on us.
      discard.clear();
      const sock::Status st = sock::recv_some(fd.get(), discard, 4096, Clock::now());
      bool gone = st == sock::Status::closed || st == sock::Status::error;
      if (!gone && ::send(fd.get(), &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) gone = errno != EAGAIN && errno != EINTR;
      if (gone) {
        ++closed_by_server;
        fd.reset();
      }
    }
  }
  out.figures.emplace_back("bytes dribbled per connection", static_cast<double>(bytes_each), Unit::count);
  out.figures.emplace_back("connections closed by the server", static_cast<double>(closed_by_server), Unit::count);
  conns.clear();  // the attacker leaves: all close at once
  out.duration_s = seconds_since(start);
  out.ok = true;
  return out;
}

}  // namespace

AttackOutcome attack_connect_storm(const AttackTarget& t) {
  AttackOutcome out;
  const int64_t n = scaled(5'000, t.scale);
  if (!enough_fds(n, &out)) return out;
  std::vector<sock::Fd> established;
  std::vector<Handshake> flight;
  std::vector<pollfd> pfds;
  int64_t started = 0, failed = 0;
  std::string last_error;
  const auto start = Clock::now();
  while ((started < n || !flight.empty()) && Clock::now() < t.deadline) {
    while (started < n && flight.size() < kStormInFlight) {
      ++started;
      Handshake h;
      h.fd = sock::start_connect(t.host, t.client_port, 0, &last_error);
      if (h.fd.valid()) {
        flight.push_back(std::move(h));
      } else {
        ++failed;
      }
    }
    pfds.clear();
    for (const auto& h : flight) pfds.push_back({h.fd.get(), static_cast<short>(h.stage == Stage::connecting ? POLLOUT : POLLIN), 0});
    if (::poll(pfds.data(), pfds.size(), 100) < 0 && errno != EINTR) break;
    std::vector<Handshake> still;
    still.reserve(flight.size());
    for (std::size_t i = 0; i < flight.size(); ++i) {
      Handshake& h = flight[i];
      if (pfds[i].revents != 0 && !advance(h)) {
        ++failed;
        continue;
      }
      if (h.stage == Stage::want_pong && h.in.find("PONG\r\n") != std::string::npos) {
        established.push_back(std::move(h.fd));
      } else {
        still.push_back(std::move(h));
      }
    }
    flight = std::move(still);
  }
  const double open_s = seconds_since(start);
  const auto unfinished = static_cast<int64_t>(flight.size()) + (n - started);
  flight.clear();
  out.figures.push_back({"connections handshaken", static_cast<double>(established.size()), Unit::count});
  out.figures.push_back({"connections failed", static_cast<double>(failed), Unit::count});
  out.figures.push_back({"opening (until the last PONG)", open_s, Unit::seconds});
  established.clear();  // all close at once
  out.duration_s = seconds_since(start);
  if (unfinished > 0) {
    out.error = fmt::format("{} handshakes unfinished at the deadline", unfinished);
    return out;
  }
  out.ok = true;
  return out;
}

AttackOutcome attack_slowloris_client(const AttackTarget& t) {
  const auto duration = std::chrono::milliseconds(scaled(8'000, t.scale, 1'000));
  return dribble(t, t.client_port, scaled(1'000, t.scale), "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"slowloris", duration);
}

AttackOutcome attack_slowloris_monitor(const AttackTarget& t) {
  const auto duration = std::chrono::milliseconds(scaled(8'000, t.scale, 1'000));
  return dribble(t, t.http_port, scaled(500, t.scale), "GET /varz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slowloris: ", duration);
}

}  // namespace forest::bench

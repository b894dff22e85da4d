// The attack table, shared helpers, and the two single-client protocol attacks: subscription
// churn and publishes to distinct subjects nobody subscribes to.
#include <algorithm>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "hostile.hpp"
#include "sock.hpp"

namespace forest::bench {

const std::vector<Attack>& attacks() {
  static const std::vector<Attack> all = {
      {"sub-churn", "one client sends 200,000 SUB churn.x <sid> (one subject), waits for PONG, disconnects; twice",
       attack_sub_churn},
      {"distinct-subjects", "one client publishes 300,000 messages to distinct 200-byte subjects, nobody subscribed",
       attack_distinct_subjects},
      {"unknown-monitor-paths", "20,000 keep-alive GETs of distinct unknown monitoring paths; /varz size before and after",
       attack_unknown_monitor_paths},
      {"connect-storm", "5,000 client connections opened as fast as possible (500 handshakes in flight), then closed",
       attack_connect_storm},
      {"slowloris-client", "1,000 client connections dribble a CONNECT line, one byte per 100 ms, never finished",
       attack_slowloris_client},
      {"slowloris-monitor", "500 monitoring connections dribble request headers, one byte per 100 ms",
       attack_slowloris_monitor},
      {"slow-subscriber", "a subscriber reading 4 MiB/s (16 KiB socket buffer) while a producer bursts 96 MiB of 1 KiB messages",
       attack_slow_subscriber},
  };
  return all;
}

namespace hostile {

int64_t scaled(int64_t n, double scale, int64_t min) {
  return std::max<int64_t>(min, static_cast<int64_t>(static_cast<double>(n) * scale));
}

double varz_number(const AttackTarget& t, const std::string& field, std::chrono::steady_clock::time_point deadline) {
  std::string body;
  if (sock::http_body_size(t.host, t.http_port, "/varz", deadline, &body) < 0) return -1;
  const std::string key = "\"" + field + "\":";
  const auto at = body.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(body.c_str() + at + key.size(), nullptr);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace hostile

namespace {

using Clock = std::chrono::steady_clock;
using hostile::scaled;
using hostile::seconds_since;

// A handshaken client connection, or an error in *out.
sock::Fd open_client(const AttackTarget& t, AttackOutcome* out) {
  std::string error;
  const auto deadline = std::min(t.deadline, Clock::now() + std::chrono::seconds(10));
  sock::Fd fd = sock::connect(t.host, t.client_port, deadline, &error);
  if (fd.valid() && sock::nats_handshake(fd.get(), deadline, &error) != sock::Status::ok) fd.reset();
  if (!fd.valid()) out->error = "client connection: " + error;
  return fd;
}

// Sends `bytes` then PING and waits for the PONG: the server has processed everything.
bool send_and_sync(int fd, const std::string& bytes, const AttackTarget& t, const std::string& what, AttackOutcome* out) {
  sock::Status st = sock::send_all(fd, bytes, t.deadline);
  if (st == sock::Status::ok) st = sock::send_all(fd, "PING\r\n", t.deadline);
  std::string in;
  if (st == sock::Status::ok) st = sock::read_until(fd, in, "PONG\r\n", t.deadline);
  if (st != sock::Status::ok) {
    out->error = what + ": " + sock::status_text(st);
    if (const auto err = in.find("-ERR"); err != std::string::npos) out->error += " (" + in.substr(err, in.find("\r\n", err) - err) + ")";
    return false;
  }
  return true;
}

}  // namespace

AttackOutcome attack_sub_churn(const AttackTarget& t) {
  AttackOutcome out;
  const int64_t subs = scaled(200'000, t.scale);
  std::string batch;
  batch.reserve(static_cast<std::size_t>(subs) * 24);
  for (int64_t sid = 1; sid <= subs; ++sid) batch += fmt::format("SUB churn.x {}\r\n", sid);
  // Subscriptions the server has of its own (nats-server's system account): the floor to return to.
  const double baseline = hostile::varz_number(t, "subscriptions", std::min(t.deadline, Clock::now() + std::chrono::seconds(5)));
  const auto start = Clock::now();
  for (int rep = 1; rep <= 2; ++rep) {
    sock::Fd fd = open_client(t, &out);
    if (!fd.valid()) return out;
    const auto sub_start = Clock::now();
    if (!send_and_sync(fd.get(), batch, t, fmt::format("subscribe {}", rep), &out)) return out;
    out.figures.push_back({fmt::format("subscribe {} (until PONG)", rep), seconds_since(sub_start), Unit::seconds});
    fd.reset();  // disconnect: the server removes all of them
    // How long until the server's subscription count is back where it was.
    const auto closed = Clock::now();
    double now_subs = -1;
    while (Clock::now() < t.deadline) {
      now_subs = hostile::varz_number(t, "subscriptions", std::min(t.deadline, Clock::now() + std::chrono::seconds(5)));
      if (now_subs >= 0 && now_subs <= baseline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (baseline < 0 || now_subs < 0 || now_subs > baseline) {
      out.error = fmt::format("disconnect {}: /varz subscriptions not back to {} ({})", rep, baseline, now_subs);
      return out;
    }
    out.figures.push_back({fmt::format("disconnect {} until /varz shows them gone", rep), seconds_since(closed), Unit::seconds});
  }
  out.figures.push_back({"subscriptions per connection", static_cast<double>(subs), Unit::count});
  out.duration_s = seconds_since(start);
  out.ok = true;
  return out;
}

AttackOutcome attack_distinct_subjects(const AttackTarget& t) {
  AttackOutcome out;
  const int64_t msgs = scaled(300'000, t.scale);
  constexpr std::size_t kSubjectBytes = 200;
  sock::Fd fd = open_client(t, &out);
  if (!fd.valid()) return out;
  const auto start = Clock::now();
  std::string batch;
  for (int64_t i = 0; i < msgs; ++i) {
    std::string subject = fmt::format("hostile.distinct.{:012}.", i);
    subject.resize(kSubjectBytes, 'x');
    batch += fmt::format("PUB {} 16\r\n0123456789abcdef\r\n", subject);
    if (batch.size() >= 64 * 1024 || i + 1 == msgs) {
      if (const auto st = sock::send_all(fd.get(), batch, t.deadline); st != sock::Status::ok) {
        out.error = fmt::format("publish {} of {}: {}", i + 1, msgs, sock::status_text(st));
        return out;
      }
      batch.clear();
    }
  }
  if (!send_and_sync(fd.get(), "", t, "final PING", &out)) return out;
  out.duration_s = seconds_since(start);
  out.figures.push_back({"messages (16 B payload)", static_cast<double>(msgs), Unit::count});
  out.figures.push_back({"publish until PONG", out.duration_s, Unit::seconds});
  out.ok = true;
  return out;
}

}  // namespace forest::bench

// A slow subscriber under a burst: one subscriber with a small socket buffer reads at a few
// MB/s while a producer publishes 96 MiB to it as fast as it can. The server must either
// absorb the burst (nats-server stalls the producer once the receiver is past half its
// max_pending) or cut the subscriber as a slow consumer; either way the others must not stall.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "hostile.hpp"
#include "sock.hpp"

namespace forest::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kBurstBytes = 96LL * 1024 * 1024;  // payload bytes
constexpr std::size_t kPayload = 1024;
constexpr double kReadBytesPerSecond = 4.0 * 1024 * 1024;
constexpr int kSubscriberRcvBuf = 16 * 1024;
constexpr auto kReadTick = std::chrono::milliseconds(5);

// Counts MSG frames in the subscriber's stream (all have one known size) and answers PINGs.
class MsgCounter {
 public:
  // Consumes complete frames from buf; returns false on a line it does not understand.
  bool consume(std::string& buf, int fd) {
    std::size_t pos = 0;
    for (;;) {
      if (skip_ > 0) {
        const std::size_t n = std::min(skip_, buf.size() - pos);
        skip_ -= n;
        pos += n;
        if (skip_ > 0) break;
        ++msgs_;
      }
      const auto eol = buf.find("\r\n", pos);
      if (eol == std::string::npos) break;
      const std::string_view line(buf.data() + pos, eol - pos);
      pos = eol + 2;
      if (line.starts_with("MSG ")) {
        skip_ = std::strtoul(std::string(line.substr(line.rfind(' ') + 1)).c_str(), nullptr, 10) + 2;
      } else if (line == "PING") {
        (void)sock::send_all(fd, "PONG\r\n", Clock::now() + std::chrono::seconds(1));
      } else if (line.starts_with("-ERR")) {
        error_ = std::string(line);
      } else if (line != "PONG" && line != "+OK" && !line.starts_with("INFO ")) {
        return false;
      }
    }
    buf.erase(0, pos);
    return true;
  }
  [[nodiscard]] int64_t msgs() const { return msgs_; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::size_t skip_ = 0;
  int64_t msgs_ = 0;
  std::string error_;
};

struct ProducerResult {
  std::atomic<bool> done{false};
  bool ok = false;
  std::string error;
  double seconds = 0;
};

void produce(const AttackTarget& t, int64_t msgs, ProducerResult* r) {
  std::string error;
  sock::Fd fd = sock::connect(t.host, t.client_port, t.deadline, &error);
  if (fd.valid() && sock::nats_handshake(fd.get(), t.deadline, &error) != sock::Status::ok) fd.reset();
  if (!fd.valid()) {
    r->error = "producer: " + error;
    r->done.store(true);
    return;
  }
  const std::string one = fmt::format("PUB slow.x {}\r\n{}\r\n", kPayload, std::string(kPayload, 'p'));
  std::string batch;
  for (int i = 0; i < 64; ++i) batch += one;
  const auto start = Clock::now();
  sock::Status st = sock::Status::ok;
  for (int64_t sent = 0; sent < msgs && st == sock::Status::ok; sent += 64) {
    const auto k = static_cast<std::size_t>(std::min<int64_t>(64, msgs - sent));
    st = sock::send_all(fd.get(), std::string_view(batch).substr(0, k * one.size()), t.deadline);
  }
  std::string in;
  if (st == sock::Status::ok) st = sock::send_all(fd.get(), "PING\r\n", t.deadline);
  if (st == sock::Status::ok) st = sock::read_until(fd.get(), in, "PONG\r\n", t.deadline);
  r->seconds = hostile::seconds_since(start);
  r->ok = st == sock::Status::ok;
  if (!r->ok) r->error = std::string("producer: ") + sock::status_text(st);
  r->done.store(true);
}

}  // namespace

AttackOutcome attack_slow_subscriber(const AttackTarget& t) {
  AttackOutcome out;
  const int64_t msgs = hostile::scaled(kBurstBytes, t.scale) / static_cast<int64_t>(kPayload);
  const auto varz_deadline = [&] { return std::min(t.deadline, Clock::now() + std::chrono::seconds(5)); };
  const double slow_before = hostile::varz_number(t, "slow_consumers", varz_deadline());
  std::string error;
  sock::Fd sub = sock::connect(t.host, t.client_port, t.deadline, &error, kSubscriberRcvBuf);
  if (sub.valid() && sock::nats_handshake(sub.get(), t.deadline, &error) != sock::Status::ok) sub.reset();
  std::string in;
  if (sub.valid() && (sock::send_all(sub.get(), "SUB slow.x 1\r\nPING\r\n", t.deadline) != sock::Status::ok ||
                      sock::read_until(sub.get(), in, "PONG\r\n", t.deadline) != sock::Status::ok)) {
    sub.reset();
  }
  if (!sub.valid()) {
    out.error = "subscriber: " + (error.empty() ? std::string("SUB not confirmed") : error);
    return out;
  }
  in.erase(0, in.find("PONG\r\n") + 6);
  const auto start = Clock::now();
  ProducerResult producer;
  std::thread producer_thread([&] { produce(t, msgs, &producer); });
  // Read at the fixed rate until everything arrived, the server cut us, or the deadline.
  MsgCounter counter;
  bool cut = false;
  double budget = 0;
  auto last = Clock::now();
  while (counter.msgs() < msgs && Clock::now() < t.deadline) {
    std::this_thread::sleep_for(kReadTick);
    const auto now = Clock::now();
    budget = std::min(budget + kReadBytesPerSecond * std::chrono::duration<double>(now - last).count(), 256.0 * 1024);
    last = now;
    while (budget >= 1) {
      const auto want = static_cast<std::size_t>(budget);
      const std::size_t before = in.size();
      const sock::Status st = sock::recv_some(sub.get(), in, want, now);
      if (st == sock::Status::closed || st == sock::Status::error) {
        cut = true;
        break;
      }
      if (st != sock::Status::ok) break;
      budget -= static_cast<double>(in.size() - before);
      if (!counter.consume(in, sub.get())) {
        out.error = "subscriber: unexpected bytes from the server";
        break;
      }
    }
    if (cut || !out.error.empty()) break;
  }
  const double read_s = hostile::seconds_since(start);
  sub.reset();
  producer_thread.join();  // bounded: the producer gives up at t.deadline
  const double slow_after = hostile::varz_number(t, "slow_consumers", varz_deadline());
  out.duration_s = hostile::seconds_since(start);
  out.figures.push_back({"messages in the burst (1 KiB)", static_cast<double>(msgs), Unit::count});
  out.figures.push_back({"producer until PONG", producer.seconds, Unit::seconds});
  out.figures.push_back({"subscriber received", static_cast<double>(counter.msgs()), Unit::count});
  out.figures.push_back({"subscriber read phase", read_s, Unit::seconds});
  out.figures.push_back({"subscriber cut by the server", cut ? 1.0 : 0.0, Unit::flag});
  if (slow_before >= 0 && slow_after >= 0) {
    out.figures.push_back({"/varz slow_consumers added", slow_after - slow_before, Unit::count});
  }
  if (!out.error.empty()) return out;
  if (!producer.ok) {
    out.error = producer.error;
  } else if (!cut && counter.msgs() < msgs) {
    out.error = fmt::format("subscriber neither cut nor done at the deadline ({} of {} messages)", counter.msgs(), msgs);
  } else if (slow_before < 0 || slow_after < 0) {
    out.error = "GET /varz failed";
  } else {
    out.ok = true;
  }
  return out;
}

}  // namespace forest::bench

#include "probes.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <stdexcept>

#include "histogram.hpp"
#include "sock.hpp"

namespace forest::bench {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

int64_t to_ns(ProbeClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Waits for input on fd for at most `ns` nanoseconds (sub-millisecond, unlike poll).
bool readable_within(int fd, int64_t ns) {
  pollfd p{fd, POLLIN, 0};
  const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  return ::ppoll(&p, 1, &ts, nullptr) > 0;
}

void fill_quantiles(const Histogram& h, ProbeStats* s) {
  s->samples = h.count();
  s->p50_ns = h.quantile(0.5);
  s->p99_ns = h.quantile(0.99);
  s->max_ns = h.max();
}

}  // namespace

Bystander::Bystander(const std::string& host, int port, std::chrono::microseconds interval)
    : interval_(interval), send_until_ns_(kNever), drain_deadline_ns_(kNever) {
  std::string error;
  const auto deadline = ProbeClock::now() + std::chrono::seconds(5);
  sock::Fd fd = sock::connect(host, port, deadline, &error);
  if (!fd.valid()) throw std::runtime_error("bystander: " + error);
  if (sock::nats_handshake(fd.get(), deadline, &error) != sock::Status::ok) throw std::runtime_error("bystander: " + error);
  fd_ = fd.release();
  thread_ = std::thread([this] { run(); });
}

Bystander::~Bystander() {
  if (thread_.joinable()) {
    send_until_ns_.store(0);
    drain_deadline_ns_.store(0);
    thread_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

void Bystander::run() {
  std::deque<std::size_t> outstanding;  // samples_ indices, in PING order (PONGs come back in order)
  std::string in;
  auto next = ProbeClock::now();
  for (;;) {
    auto now = ProbeClock::now();
    const int64_t now_ns = to_ns(now);
    const bool sending = now_ns < send_until_ns_.load();
    if ((!sending && outstanding.empty()) || now_ns >= drain_deadline_ns_.load()) break;
    if (sending && now >= next) {
      max_lag_ns_ = std::max<uint64_t>(max_lag_ns_, static_cast<uint64_t>(to_ns(now) - to_ns(next)));
      if (sock::send_all(fd_, "PING\r\n", now + std::chrono::seconds(1)) != sock::Status::ok) {
        disconnected_ = true;
        break;
      }
      outstanding.push_back(samples_.size());
      samples_.push_back({now, -1});
      // Slots the bench itself missed are skipped (and show up as send lag), not sent in a burst.
      while (next <= now) next += interval_;
    }
    const int64_t wait_ns = sending ? to_ns(next) - to_ns(now) : std::min<int64_t>(drain_deadline_ns_.load() - now_ns, 50'000'000);
    if (!readable_within(fd_, std::max<int64_t>(wait_ns, 0))) continue;
    const sock::Status st = sock::recv_some(fd_, in, 4096, ProbeClock::now());
    now = ProbeClock::now();
    if (st == sock::Status::closed || st == sock::Status::error) {
      disconnected_ = true;
      break;
    }
    std::size_t eol;
    while ((eol = in.find("\r\n")) != std::string::npos) {
      const std::string line = in.substr(0, eol);
      in.erase(0, eol + 2);
      if (line == "PONG" && !outstanding.empty()) {
        Sample& s = samples_[outstanding.front()];
        outstanding.pop_front();
        s.rtt_ns = to_ns(now) - to_ns(s.sent);
      } else if (line == "PING") {
        (void)sock::send_all(fd_, "PONG\r\n", now + std::chrono::seconds(1));
      } else if (line.rfind("-ERR", 0) == 0) {
        error_ = line;
      }
    }
  }
  stopped_waiting_ = ProbeClock::now();
}

ProbeStats Bystander::finish(ProbeClock::time_point from, ProbeClock::time_point send_until,
                             ProbeClock::time_point drain_deadline) {
  drain_deadline_ns_.store(to_ns(drain_deadline));
  send_until_ns_.store(to_ns(send_until));
  if (thread_.joinable()) thread_.join();
  ProbeStats s;
  s.measured = true;
  s.disconnected = disconnected_;
  s.error = error_;
  s.max_send_lag_ns = max_lag_ns_;
  Histogram h;
  for (const Sample& x : samples_) {
    if (x.sent < from || x.sent >= send_until) continue;
    if (x.rtt_ns >= 0) {
      h.record(static_cast<uint64_t>(x.rtt_ns));
      s.worst_ns = std::max<uint64_t>(s.worst_ns, static_cast<uint64_t>(x.rtt_ns));
    } else {
      // Unanswered: at least as old as it was when we stopped waiting for it.
      ++s.unanswered;
      s.worst_is_lower_bound = true;
      s.worst_ns = std::max<uint64_t>(s.worst_ns, static_cast<uint64_t>(to_ns(stopped_waiting_) - to_ns(x.sent)));
    }
  }
  fill_quantiles(h, &s);
  if (s.samples == 0 && s.unanswered == 0) {
    s.measured = false;
    s.error = "no PING was sent in the window";
  }
  return s;
}

PeriodicProbe::PeriodicProbe(Attempt attempt, std::chrono::milliseconds interval, std::chrono::milliseconds timeout)
    : attempt_(std::move(attempt)), interval_(interval), timeout_(timeout), send_until_ns_(kNever) {
  thread_ = std::thread([this] { run(); });
}

PeriodicProbe::~PeriodicProbe() {
  if (thread_.joinable()) {
    send_until_ns_.store(0);
    thread_.join();
  }
}

void PeriodicProbe::run() {
  auto next = ProbeClock::now();
  for (;;) {
    if (to_ns(next) >= send_until_ns_.load()) break;
    std::this_thread::sleep_until(next);
    const auto start = ProbeClock::now();
    if (to_ns(start) >= send_until_ns_.load()) break;
    max_lag_ns_ = std::max<uint64_t>(max_lag_ns_, static_cast<uint64_t>(to_ns(start) - to_ns(next)));
    const bool ok = attempt_(start + timeout_);
    samples_.push_back({start, to_ns(ProbeClock::now()) - to_ns(start), ok});
    // One attempt at a time: a slow attempt delays the next one rather than piling them up.
    while (next <= ProbeClock::now()) next += interval_;
  }
}

ProbeStats PeriodicProbe::finish(ProbeClock::time_point from, ProbeClock::time_point send_until) {
  send_until_ns_.store(to_ns(send_until));
  if (thread_.joinable()) thread_.join();
  ProbeStats s;
  s.measured = true;
  s.max_send_lag_ns = max_lag_ns_;
  Histogram h;
  for (const Sample& x : samples_) {
    if (x.started < from || x.started >= send_until) continue;
    const auto ns = static_cast<uint64_t>(x.latency_ns);
    if (x.ok) {
      h.record(ns);
    } else {
      ++s.failures;
      s.worst_is_lower_bound = true;  // a failed attempt took at least this long and got nothing
    }
    s.worst_ns = std::max(s.worst_ns, ns);
  }
  fill_quantiles(h, &s);
  if (s.samples == 0 && s.failures == 0) {
    s.measured = false;
    s.error = "no attempt in the window";
  }
  return s;
}

PeriodicProbe::Attempt new_client_attempt(const std::string& host, int port) {
  return [host, port](ProbeClock::time_point deadline) {
    std::string error;
    sock::Fd fd = sock::connect(host, port, deadline, &error);
    return fd.valid() && sock::nats_handshake(fd.get(), deadline, &error) == sock::Status::ok;
  };
}

PeriodicProbe::Attempt healthz_attempt(const std::string& host, int http_port) {
  return [host, http_port](ProbeClock::time_point deadline) {
    return sock::http_body_size(host, http_port, "/healthz", deadline) >= 0;
  };
}

}  // namespace forest::bench

// What other clients see while an attack runs: a connected bystander that PINGs on a fixed
// schedule (open loop: a stalled server does not stop the PINGs, so a stall shows up in full),
// and periodic probes that do something from scratch (open a client connection, GET /healthz).
// Each runs on its own thread, owns its socket, and hands its samples over only after join.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace forest::bench {

using ProbeClock = std::chrono::steady_clock;

// One probe's figures over an attack window.
struct ProbeStats {
  bool measured = false;  // false: the probe could not run at all (error says why)
  std::string error;
  uint64_t samples = 0;       // answered
  uint64_t p50_ns = 0, p99_ns = 0, max_ns = 0;
  uint64_t unanswered = 0;    // sent in the window, no answer by the deadline
  uint64_t failures = 0;      // periodic probes: attempts that failed or timed out
  bool disconnected = false;  // bystander: the server closed its connection
  // A probe not answered counts as at least its age at the deadline: worst_ns is then a lower bound.
  uint64_t worst_ns = 0;
  bool worst_is_lower_bound = false;
  // How late the bench sent its probes (its own thread starved): when this is large, the
  // machine, not the server, may explain part of the worst figure.
  uint64_t max_send_lag_ns = 0;
};

// A connected client that sends PING every `interval` and times each PONG.
class Bystander {
 public:
  // Connects and handshakes (throws std::runtime_error on failure), then starts pinging.
  Bystander(const std::string& host, int port, std::chrono::microseconds interval);
  ~Bystander();
  Bystander(const Bystander&) = delete;
  Bystander& operator=(const Bystander&) = delete;

  // Stops sending at `send_until`, waits for outstanding PONGs until `drain_deadline`, and
  // returns the figures of the PINGs sent from `from` on.
  ProbeStats finish(ProbeClock::time_point from, ProbeClock::time_point send_until,
                    ProbeClock::time_point drain_deadline);

 private:
  struct Sample {
    ProbeClock::time_point sent;
    int64_t rtt_ns = -1;  // -1: no PONG
  };
  void run();

  int fd_ = -1;
  std::chrono::microseconds interval_;
  std::atomic<int64_t> send_until_ns_;      // steady_clock ns; max until finish()
  std::atomic<int64_t> drain_deadline_ns_;  // ditto
  std::thread thread_;
  // Owned by the thread until it is joined.
  std::vector<Sample> samples_;
  uint64_t max_lag_ns_ = 0;
  ProbeClock::time_point stopped_waiting_;
  bool disconnected_ = false;
  std::string error_;
};

// Runs `attempt` (true = success; it must give up at the deadline it is given) every
// `interval`, one at a time, and times each attempt.
class PeriodicProbe {
 public:
  using Attempt = std::function<bool(ProbeClock::time_point deadline)>;
  PeriodicProbe(Attempt attempt, std::chrono::milliseconds interval, std::chrono::milliseconds timeout);
  ~PeriodicProbe();
  PeriodicProbe(const PeriodicProbe&) = delete;
  PeriodicProbe& operator=(const PeriodicProbe&) = delete;

  // Starts no attempt after `send_until`; returns the figures of attempts started from `from` on.
  ProbeStats finish(ProbeClock::time_point from, ProbeClock::time_point send_until);

 private:
  struct Sample {
    ProbeClock::time_point started;
    int64_t latency_ns = 0;
    bool ok = false;
  };
  void run();

  Attempt attempt_;
  std::chrono::milliseconds interval_, timeout_;
  std::atomic<int64_t> send_until_ns_;
  std::thread thread_;
  std::vector<Sample> samples_;  // owned by the thread until joined
  uint64_t max_lag_ns_ = 0;
};

// Attempts for PeriodicProbe: a fresh NATS client connection (connect, INFO, CONNECT, PING,
// PONG, close), and a GET /healthz on the monitoring port.
PeriodicProbe::Attempt new_client_attempt(const std::string& host, int port);
PeriodicProbe::Attempt healthz_attempt(const std::string& host, int http_port);

}  // namespace forest::bench

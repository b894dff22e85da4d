// The hostile-client benchmark: attacks one client (or a crowd) can make on a NATS server,
// each run against a fresh server while a bystander client pings it, so that what the attack
// costs everyone else is measured (issue 6). Attacks run on the calling thread; every wait
// in them has a deadline, so a server that stops answering is a result, never a hang.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "probes.hpp"

namespace forest::bench {

// The server under attack.
struct AttackTarget {
  std::string host = "127.0.0.1";
  int client_port = 0;
  int http_port = 0;
  pid_t pid = -1;
  double scale = 1.0;  // multiplies counts and durations (smoke runs use a small one)
  std::chrono::steady_clock::time_point deadline;  // the attack gives up here
};

enum class Unit { count, seconds, bytes, flag };

// One measured figure of an attack (only what was measured is reported).
struct Figure {
  std::string name;
  double value = 0;
  Unit unit = Unit::count;
};

struct AttackOutcome {
  bool ok = false;  // the attack ran to its end (a deadline hit or a refused step is not ok)
  std::string error;
  double duration_s = 0;
  std::vector<Figure> figures;
};

struct Attack {
  std::string name;
  std::string description;
  AttackOutcome (*run)(const AttackTarget&);
};

// All attacks, in the order they run.
const std::vector<Attack>& attacks();

// One attack against one server, and what the others saw meanwhile.
struct HostileRun {
  std::string attack;
  std::string server;  // "A" or "B"
  int round = 0;
  std::string error;   // the run itself failed (server did not start, bystander could not connect)
  AttackOutcome outcome;
  ProbeStats bystander;   // PING every 5 ms on a connection opened before the attack
  ProbeStats new_client;  // a fresh client connection every 100 ms
  ProbeStats healthz;     // GET /healthz every 100 ms
  int64_t rss_before = 0, rss_peak = 0, rss_after = 0;  // bytes; after = 1 s after the attack
  double server_cpu_s = 0;
  double cpu_resolution_s = 0;  // the CPU source's granularity (see proc_stats.hpp)
  bool server_alive_after = false;
};

// Attack-side helpers shared by the attack files.
namespace hostile {
// Count scaled by target.scale, at least `min`.
[[nodiscard]] int64_t scaled(int64_t n, double scale, int64_t min = 1);
// A numeric field of the server's /varz (or -1 when it could not be read).
[[nodiscard]] double varz_number(const AttackTarget& t, const std::string& field,
                                 std::chrono::steady_clock::time_point deadline);
double seconds_since(std::chrono::steady_clock::time_point start);
}  // namespace hostile

// forest-bench hostile [options]: see main.cpp's usage text.
int cmd_hostile(const std::vector<std::string>& args, const std::string& command_line);

// Attack implementations (hostile_*.cpp).
AttackOutcome attack_sub_churn(const AttackTarget& t);
AttackOutcome attack_distinct_subjects(const AttackTarget& t);
AttackOutcome attack_unknown_monitor_paths(const AttackTarget& t);
AttackOutcome attack_connect_storm(const AttackTarget& t);
AttackOutcome attack_slowloris_client(const AttackTarget& t);
AttackOutcome attack_slowloris_monitor(const AttackTarget& t);
AttackOutcome attack_slow_subscriber(const AttackTarget& t);

}  // namespace forest::bench

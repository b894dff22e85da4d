// forest-bench hostile: runs each attack against a fresh A and a fresh B server (ABBA order
// over the rounds), with a bystander and probes around every attack, and writes the report.
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "hostile.hpp"
#include "hostile_report.hpp"
#include "proc_stats.hpp"
#include "server_process.hpp"

namespace forest::bench {
namespace {

using Clock = std::chrono::steady_clock;
using forest::testing::ServerProcess;

constexpr auto kBystanderInterval = std::chrono::milliseconds(5);
constexpr auto kProbeInterval = std::chrono::milliseconds(100);
constexpr auto kProbeTimeout = std::chrono::seconds(5);
// The disconnect phase counts: the window runs on this long after the attack returns, and the
// RSS "after" is read at its end.
constexpr auto kSettle = std::chrono::seconds(1);
// PONGs of PINGs sent in the window are waited for this long after it.
constexpr auto kDrain = std::chrono::seconds(10);
constexpr auto kAttackTimeout = std::chrono::seconds(120);

const char* kDefaultA = "build/app/forest-server --io_threads 1";
const char* kDefaultB = "GOMAXPROCS=1 /usr/sbin/nats-server";

// "VAR=value ... binary args": leading assignments become "/usr/bin/env VAR=value binary"; env
// execs the binary in place, so the pid the bench watches is the server's own.
std::vector<std::string> split_command(const std::string& cmd) {
  std::istringstream in(cmd);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  if (!out.empty() && out.front().find('=') != std::string::npos && out.front().front() != '-') {
    out.insert(out.begin(), "/usr/bin/env");
  }
  return out;
}

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

HostileRun run_one(const Attack& attack, const std::vector<std::string>& argv, const std::string& label, int round,
                   double scale) {
  HostileRun r;
  r.attack = attack.name;
  r.server = label;
  r.round = round;
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  for (const char* extra : {"-a", "127.0.0.1", "-p", "-1", "-m", "-1"}) args.emplace_back(extra);
  try {
    auto server = ServerProcess::start(argv.front(), args);
    AttackTarget t;
    t.client_port = server->client_port();
    t.http_port = server->http_port();
    t.pid = server->pid();
    t.scale = scale;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the server settle
    r.rss_before = process_rss_bytes(t.pid);
    Bystander bystander(t.host, t.client_port, kBystanderInterval);
    PeriodicProbe new_client(new_client_attempt(t.host, t.client_port), kProbeInterval, kProbeTimeout);
    PeriodicProbe healthz(healthz_attempt(t.host, t.http_port), kProbeInterval, kProbeTimeout);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // probes under way before the attack
    const CpuTime cpu0 = process_cpu(t.pid);
    r.cpu_resolution_s = cpu0.resolution_s;
    Clock::time_point start, end;
    {
      RssSampler rss(t.pid);
      start = Clock::now();
      t.deadline = start + kAttackTimeout;
      try {
        r.outcome = attack.run(t);
      } catch (const std::exception& e) {
        r.outcome.error = std::string("attack threw: ") + e.what();
      }
      end = Clock::now() + kSettle;
      std::this_thread::sleep_until(end);
      r.rss_after = process_rss_bytes(t.pid);
      r.rss_peak = std::max(rss.peak(), r.rss_after);
    }
    r.server_cpu_s = process_cpu(t.pid).seconds - cpu0.seconds;
    r.new_client = new_client.finish(start, end);
    r.healthz = healthz.finish(start, end);
    r.bystander = bystander.finish(start, end, end + kDrain);
    r.server_alive_after = server->running();
    server->stop();
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

std::string progress_line(const HostileRun& r) {
  if (!r.error.empty()) return "FAILED: " + r.error;
  std::string s = fmt::format("bystander worst {}{}, RSS after {}", r.bystander.worst_is_lower_bound ? ">=" : "",
                              human_ns(static_cast<double>(r.bystander.worst_ns)), human_bytes(static_cast<double>(r.rss_after)));
  if (!r.outcome.ok) s += "; attack: " + r.outcome.error;
  return s;
}

std::vector<Attack> select_attacks(const std::vector<std::string>& names) {
  if (names.empty()) return attacks();
  std::vector<Attack> out;
  for (const auto& list : names) {
    std::istringstream in(list);
    std::string name;
    while (std::getline(in, name, ',')) {
      bool found = false;
      for (const auto& a : attacks()) {
        if (a.name == name) {
          out.push_back(a);
          found = true;
        }
      }
      if (!found) throw std::runtime_error("unknown attack '" + name + "' (--list shows them)");
    }
  }
  return out;
}

}  // namespace

int cmd_hostile(const std::vector<std::string>& args, const std::string& command_line) {
  std::string a_cmd = kDefaultA, b_cmd = kDefaultB, out_dir = "bench-results/hostile";
  int rounds = 1;
  double scale = 1.0;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) throw std::runtime_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--a") a_cmd = next();
    else if (a == "--b") b_cmd = next();
    else if (a == "--rounds") rounds = std::stoi(next());
    else if (a == "--attack") names.push_back(next());
    else if (a == "--scale") scale = std::stod(next());
    else if (a == "--out") out_dir = next();
    else if (a == "--list") {
      for (const auto& at : attacks()) std::cout << fmt::format("{:<22} {}\n", at.name, at.description);
      return 0;
    } else {
      throw std::runtime_error("unknown option " + a);
    }
  }
  if (rounds < 1 || scale <= 0) throw std::runtime_error("--rounds and --scale must be positive");
  const std::vector<Attack> selected = select_attacks(names);
  const std::vector<std::string> a_argv = split_command(a_cmd), b_argv = split_command(b_cmd);
  if (a_argv.empty() || b_argv.empty()) throw std::runtime_error("empty server command");
  std::vector<HostileRun> runs;
  const int total = static_cast<int>(selected.size()) * rounds * 2;
  for (int round = 1; round <= rounds; ++round) {
    for (const auto& attack : selected) {
      const bool a_first = round % 2 == 1;  // ABBA: odd rounds A then B, even rounds B then A
      for (int k = 0; k < 2; ++k) {
        const bool is_a = (k == 0) == a_first;
        HostileRun r = run_one(attack, is_a ? a_argv : b_argv, is_a ? "A" : "B", round, scale);
        std::cerr << fmt::format("[{}/{}] round {} {} {}: {}\n", runs.size() + 1, total, round, r.server, r.attack, progress_line(r));
        runs.push_back(std::move(r));
      }
    }
  }
  HostileMeta meta{{command_line, machine_description(), now_text(), rounds}, a_cmd, b_cmd, scale};
  std::filesystem::create_directories(out_dir);
  std::ofstream(out_dir + "/hostile.json") << render_hostile_json(meta, runs);
  std::ofstream(out_dir + "/hostile.csv") << render_hostile_csv(runs);
  const std::string table = render_hostile_table(meta, selected, runs);
  std::ofstream(out_dir + "/hostile.txt") << table;
  std::cout << table << "report: " << out_dir << "/hostile.txt (also hostile.json, hostile.csv)\n";
  bool all_ran = true;
  for (const auto& r : runs) all_ran = all_ran && r.error.empty() && r.bystander.measured;
  return all_ran ? 0 : 1;
}

}  // namespace forest::bench

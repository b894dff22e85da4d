// forest-bench cluster: for every run a fresh cluster of N A-servers or N B-servers (ABBA over
// the rounds), the publisher on node 0 and the subscribers on other nodes, so every message
// crosses a route; rate, server CPU per message summed over all nodes, mesh formation time.
#include "cluster_compare.hpp"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "cluster_nodes.hpp"
#include "cluster_parse.hpp"
#include "report.hpp"
#include "workloads.hpp"

namespace forest::bench {
namespace {

const char* kDefaultA = "build/app/forest-server";
const char* kDefaultB = "/usr/sbin/nats-server";
constexpr int kMaxNodes = 16;

std::vector<std::string> cluster_suite(const std::string& name) {
  if (name == "quick") {
    return {"pubsub:size=16,subs=1,msgs=100000", "pubsub:size=1024,subs=4,msgs=20000",
            "queue:size=16,subs=3,msgs=100000", "mesh:nodes=4"};
  }
  if (name != "default") throw std::runtime_error("unknown suite '" + name + "' (default, quick)");
  return {"pubsub:size=16,subs=1,msgs=2000000",   "pubsub:size=1024,subs=1,msgs=600000",
          "pubsub:size=16,subs=4,msgs=800000",    "pubsub:size=1024,subs=4,msgs=200000",
          "queue:size=16,pubs=1,subs=3,msgs=2000000", "queue:size=1024,pubs=1,subs=3,msgs=600000",
          "mesh:nodes=4"};
}

// One workload as the cluster runs it: its cluster size and where the subscribers are.
struct ClusterWorkload {
  WorkloadSpec spec;
  NodeRange subs;
  std::string name;
};

ClusterWorkload plan(const std::string& text, int default_nodes) {
  std::string error;
  auto spec = parse_workload(text, &error);
  if (!spec) throw std::runtime_error(error);
  if (spec->mode != "pubsub" && spec->mode != "queue" && spec->mode != "mesh") {
    throw std::runtime_error("'" + spec->mode + "' is not a cluster workload (pubsub, queue, mesh)");
  }
  ClusterWorkload w;
  w.spec = *spec;
  if (w.spec.nodes == 0) w.spec.nodes = default_nodes;
  if (w.spec.nodes < 2 || w.spec.nodes > kMaxNodes) {
    throw std::runtime_error(fmt::format("{}: nodes must be 2..{}", text, kMaxNodes));
  }
  if (w.spec.mode == "mesh") {
    w.name = w.spec.name();
    return w;
  }
  // Subscribers on node 1 by default; a queue group over every node, the publisher's too (for
  // a client's message both servers pick a member at random over local and remote members,
  // weighted by the routes' queue weights, so most of the group's messages cross a route).
  const std::string range =
      !w.spec.sub_nodes.empty() ? w.spec.sub_nodes : (w.spec.mode == "queue" ? "0-" + std::to_string(w.spec.nodes - 1) : "1");
  auto r = parse_node_range(range, w.spec.nodes, &error);
  if (!r) throw std::runtime_error(text + ": " + error);
  w.subs = *r;
  const std::string where = r->first == r->last ? std::to_string(r->first) : fmt::format("{}-{}", r->first, r->last);
  w.name = !w.spec.label.empty() ? w.spec.label : fmt::format("{} [0>{} of {}]", w.spec.name(), where, w.spec.nodes);
  return w;
}

WorkloadResult run_one(const ClusterWorkload& w, const std::vector<std::string>& argv) {
  WorkloadResult r;
  try {
    auto cluster = BenchCluster::start(argv, w.spec.nodes);
    if (w.spec.mode == "mesh") {
      r.ok = true;
    } else {
      Placement where;
      where.publishers = cluster->client(0);
      std::vector<int> remote;
      for (int k = w.subs.first; k <= w.subs.last; ++k) {
        where.subscribers.push_back(cluster->client(k));
        if (k != 0) remote.push_back(k);
      }
      // CPU is counted from the moment the interest is everywhere: the polling of /routez
      // until then is the bench's doing, and how long it lasts differs between the servers.
      CpuTime cpu0 = cluster->cpu();
      where.ready = [&](std::string_view subject) {
        std::string why = cluster->wait_for_interest(0, remote, subject);
        cpu0 = cluster->cpu();
        return why;
      };
      cluster->start_rss_sampling();
      r = run_workload(w.spec, where);
      r.server_cpu_s = cluster->cpu().seconds - cpu0.seconds;
      r.server_cpu_resolution_s = cpu0.resolution_s;
      r.server_peak_rss = cluster->stop_rss_sampling();
      if (const std::string gone = cluster->exited_nodes(); !gone.empty()) {
        r.ok = false;
        r.error += gone;
      }
    }
    r.mesh_formation_s = cluster->mesh_formation_s();
    cluster->stop();
  } catch (const std::exception& e) {
    r.ok = false;
    r.error = e.what();
  }
  r.name = w.name;
  r.mode = w.spec.mode;
  return r;
}

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

// Every run formed a mesh: its formation time by cluster size, over all workloads.
std::string mesh_summary(const std::vector<ClusterWorkload>& plans, const std::vector<Comparison>& rows) {
  std::map<int, std::pair<Series, Series>> by_nodes;
  // A run whose mesh formed counts, even if its workload failed afterwards.
  auto formed = [](const WorkloadResult& r) {
    WorkloadResult m = r;
    m.ok = r.mesh_formation_s > 0;
    return m;
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto& [a, b] = by_nodes[plans[i].spec.nodes];
    for (const auto& r : rows[i].a.rounds) a.rounds.push_back(formed(r));
    for (const auto& r : rows[i].b.rounds) b.rounds.push_back(formed(r));
  }
  auto text = [](const Series& s) {
    const auto n = std::count_if(s.rounds.begin(), s.rounds.end(), [](const auto& r) { return r.ok; });
    if (n == 0) return std::string("no mesh formed");
    return fmt::format("{} ({}-{}, {} runs)", human_ns(s.median_mesh_s() * 1e9), human_ns(s.min_mesh_s() * 1e9),
                       human_ns(s.max_mesh_s() * 1e9), n);
  };
  std::string out = "mesh formation over all runs (median, min-max):";
  for (const auto& [nodes, ab] : by_nodes) out += fmt::format("\n  {} nodes: A {}  B {}", nodes, text(ab.first), text(ab.second));
  return out + "\n";
}

}  // namespace

int cmd_cluster(const std::vector<std::string>& args, const std::string& command_line) {
  std::string a_cmd = kDefaultA, b_cmd = kDefaultB, out_dir = "bench-results/cluster", suite_name = "default";
  int rounds = 5, nodes = 3;
  std::vector<std::string> workloads;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) throw std::runtime_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--a") a_cmd = next();
    else if (a == "--b") b_cmd = next();
    else if (a == "--rounds") rounds = std::stoi(next());
    else if (a == "--nodes") nodes = std::stoi(next());
    else if (a == "--suite") suite_name = next();
    else if (a == "--workload") workloads.push_back(next());
    else if (a == "--out") out_dir = next();
    else throw std::runtime_error("unknown option " + a);
  }
  if (rounds < 1) throw std::runtime_error("--rounds must be at least 1");
  if (workloads.empty()) workloads = cluster_suite(suite_name);
  std::vector<ClusterWorkload> plans;
  for (const auto& w : workloads) plans.push_back(plan(w, nodes));
  const std::vector<std::string> a_argv = split_server_command(a_cmd), b_argv = split_server_command(b_cmd);
  if (a_argv.empty() || b_argv.empty()) throw std::runtime_error("--a and --b need a command");

  std::vector<Comparison> rows;
  for (const auto& p : plans) {
    Comparison c;
    c.workload = p.name;
    c.a.server = "A";
    c.a.command = a_cmd;
    c.b.server = "B";
    c.b.command = b_cmd;
    rows.push_back(std::move(c));
  }
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const int total_runs = static_cast<int>(plans.size()) * rounds * 2;
  int done = 0;
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t w = 0; w < plans.size(); ++w) {
      const bool a_first = round % 2 == 0;  // ABBA: even rounds A then B, odd rounds B then A
      for (int k = 0; k < 2; ++k) {
        const bool is_a = (k == 0) == a_first;
        WorkloadResult r = run_one(plans[w], is_a ? a_argv : b_argv);
        ++done;
        const std::string figure = plans[w].spec.mode == "mesh" ? "mesh in " + human_ns(r.mesh_formation_s * 1e9)
                                                                : fmt::format("{:.0f} msg/s", r.msgs_per_s);
        const std::string line = fmt::format("[{}/{}] round {} {} {}: {}", done, total_runs, round + 1, is_a ? "A" : "B", r.name,
                                             r.ok ? figure : "FAILED " + r.error);
        // A failure's text (with server logs) is kept on its own lines, never overwritten.
        if (tty && r.ok) {
          std::cerr << "\r\033[K" << line << std::flush;
        } else {
          std::cerr << (tty ? "\r\033[K" : "") << line << "\n";
        }
        (is_a ? rows[w].a : rows[w].b).rounds.push_back(std::move(r));
      }
    }
  }
  if (tty) std::cerr << "\n";
  ReportMeta meta{command_line, machine_description(), now_text(), rounds};
  std::filesystem::create_directories(out_dir);
  std::ofstream(out_dir + "/report.json") << render_json(meta, rows);
  std::ofstream(out_dir + "/report.csv") << render_csv(rows);
  std::ofstream(out_dir + "/report.html") << render_html(meta, rows);
  std::cout << "A: " << a_cmd << "\nB: " << b_cmd << "\n"
            << "publisher on node 0; [0>S of N]: subscribers on node(s) S of an N-node cluster; "
               "cpu/M: server CPU seconds per million messages, summed over the nodes\n"
            << render_table(rows) << mesh_summary(plans, rows);
  std::cout << "report: " << out_dir << "/report.html (also report.json, report.csv)\n";
  bool all_ok = true;
  for (const auto& c : rows) all_ok = all_ok && c.a.all_ok() && c.b.all_ok();
  return all_ok ? 0 : 1;
}

}  // namespace forest::bench

#include "cluster_nodes.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "cluster_parse.hpp"
#include "sock.hpp"

namespace forest::bench {
namespace {

using Clock = std::chrono::steady_clock;
using forest::testing::ServerProcess;

constexpr std::string_view kRouteMarker = "Listening for route connections on ";
constexpr auto kPoll = std::chrono::milliseconds(2);
constexpr auto kHttpTimeout = std::chrono::seconds(2);

std::vector<std::string> node_args(const std::vector<std::string>& argv, int route_port) {
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  for (const char* extra : {"-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--cluster", "nats://127.0.0.1:-1", "--cluster_name", "bench"}) {
    args.emplace_back(extra);
  }
  if (route_port > 0) {
    args.emplace_back("--routes");
    args.push_back("nats://127.0.0.1:" + std::to_string(route_port));
  }
  return args;
}

// One GET of a node's /routez; nullopt (with the reason in *why) when it does not answer.
std::optional<Routez> fetch_routez(int http_port, const std::string& path, std::string* why) {
  std::string body;
  const auto deadline = Clock::now() + kHttpTimeout;
  if (sock::http_body_size("127.0.0.1", http_port, path, deadline, &body) < 0) {
    *why = "no answer to GET " + path;
    return std::nullopt;
  }
  return parse_routez(body, why);
}

}  // namespace

std::string log_tail(const std::string& log, std::size_t max) {
  return log.size() <= max ? log : "..." + log.substr(log.size() - max);
}

std::unique_ptr<BenchCluster> BenchCluster::start(const std::vector<std::string>& argv, int nodes,
                                                  std::chrono::milliseconds mesh_timeout) {
  if (argv.empty()) throw std::runtime_error("no server command");
  if (nodes < 2) throw std::runtime_error("a cluster needs at least 2 nodes");
  std::unique_ptr<BenchCluster> c(new BenchCluster());
  c->nodes_.push_back({ServerProcess::start(argv.front(), node_args(argv, 0)), ""});
  ServerProcess& first = *c->nodes_.front().proc;
  // The route listener may be logged after the client port the start waited for.
  int route_port = 0;
  for (const auto deadline = Clock::now() + std::chrono::seconds(10); Clock::now() < deadline && first.running();) {
    route_port = port_from_log(first.log(), kRouteMarker);
    if (route_port > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (route_port == 0) {
    throw std::runtime_error("node 0 logged no \"" + std::string(kRouteMarker) + "host:port\" line within 10s; its log:\n" +
                             log_tail(first.log()));
  }
  const auto t0 = Clock::now();
  for (int k = 1; k < nodes; ++k) c->nodes_.push_back({ServerProcess::start(argv.front(), node_args(argv, route_port)), ""});
  if (std::string why = c->wait_for_mesh(t0 + mesh_timeout); !why.empty()) {
    throw std::runtime_error(why + c->exited_nodes());
  }
  c->mesh_formation_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
  return c;
}

BenchCluster::~BenchCluster() { stop(); }

Endpoint BenchCluster::client(int node) const { return {"127.0.0.1", nodes_.at(static_cast<std::size_t>(node)).proc->client_port()}; }

std::string BenchCluster::wait_for_mesh(Clock::time_point deadline) {
  const int n = size();
  std::string status;
  for (;;) {
    status.clear();
    std::vector<std::optional<Routez>> seen(nodes_.size());
    for (int k = 0; k < n; ++k) {
      std::string why;
      seen[static_cast<std::size_t>(k)] = fetch_routez(nodes_[static_cast<std::size_t>(k)].proc->http_port(), "/routez", &why);
      if (seen[static_cast<std::size_t>(k)]) {
        nodes_[static_cast<std::size_t>(k)].server_id = seen[static_cast<std::size_t>(k)]->server_id;
      } else {
        status += fmt::format(" node {}: {};", k, why);
      }
    }
    bool full = status.empty();
    for (int k = 0; k < n && status.empty(); ++k) {
      const Routez& rz = *seen[static_cast<std::size_t>(k)];
      std::vector<std::string> want, have;
      for (int j = 0; j < n; ++j) {
        if (j != k) want.push_back(nodes_[static_cast<std::size_t>(j)].server_id);
      }
      for (const RouteEntry& e : rz.routes) have.push_back(e.remote_id);
      std::sort(want.begin(), want.end());
      std::sort(have.begin(), have.end());
      if (have != want || rz.num_routes != n - 1) full = false;
      status += fmt::format(" node {}: {} of {} routes;", k, rz.num_routes, n - 1);
    }
    if (full) return "";
    if (Clock::now() >= deadline) return fmt::format("the mesh of {} nodes did not form in time:{}", n, status);
    std::this_thread::sleep_for(kPoll);
  }
}

std::string BenchCluster::wait_for_interest(int at, const std::vector<int>& from, std::string_view subject,
                                            std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  const Node& node = nodes_.at(static_cast<std::size_t>(at));
  std::string missing;
  for (;;) {
    missing.clear();
    std::string why;
    const auto rz = fetch_routez(node.proc->http_port(), "/routez?subs=1", &why);
    if (!rz) {
      missing = why;
    } else {
      for (int k : from) {
        const std::string& id = nodes_.at(static_cast<std::size_t>(k)).server_id;
        const auto route = std::find_if(rz->routes.begin(), rz->routes.end(), [&](const RouteEntry& e) { return e.remote_id == id; });
        if (route == rz->routes.end()) {
          missing += fmt::format(" no route to node {};", k);
        } else if (!route_has_interest(*route, subject)) {
          missing += fmt::format(" node {} has sent no interest in {} ({} subjects listed);", k, subject, route->subs.size());
        }
      }
    }
    if (missing.empty()) return "";
    if (Clock::now() >= deadline) {
      return fmt::format("node {}'s /routez?subs=1 after {} ms:{}", at,
                         std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count(), missing);
    }
    std::this_thread::sleep_for(kPoll);
  }
}

CpuTime BenchCluster::cpu() const {
  CpuTime sum;
  for (const Node& n : nodes_) {
    const CpuTime t = process_cpu(n.proc->pid());
    sum.seconds += t.seconds;
    sum.resolution_s = std::max(sum.resolution_s, t.resolution_s);
    sum.source = t.source;
  }
  return sum;
}

void BenchCluster::start_rss_sampling() {
  rss_.clear();
  for (const Node& n : nodes_) rss_.push_back(std::make_unique<RssSampler>(n.proc->pid()));
}

int64_t BenchCluster::stop_rss_sampling() {
  int64_t sum = 0;
  for (const auto& s : rss_) sum += s->peak();
  rss_.clear();
  return sum;
}

std::string BenchCluster::exited_nodes() {
  std::string out;
  for (std::size_t k = 0; k < nodes_.size(); ++k) {
    if (!nodes_[k].proc->running()) {
      out += fmt::format("\nnode {} (pid {}) exited; its log ends:\n{}", k, nodes_[k].proc->pid(), log_tail(nodes_[k].proc->log()));
    }
  }
  return out;
}

void BenchCluster::stop() {
  rss_.clear();
  // All at once, so no node spends the shutdown re-dialling the ones already gone.
  for (const Node& n : nodes_) n.proc->send_signal(SIGTERM);
  for (Node& n : nodes_) n.proc->stop();
  nodes_.clear();
}

}  // namespace forest::bench

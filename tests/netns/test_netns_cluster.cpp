// Clusters across real network stacks: each forest-server runs in its own Linux network
// namespace with its own IPv6 (ULA) address, the namespaces joined by a bridge in the root
// namespace (tests/netns/netns_lab.hpp). Over IPv6 only: a full mesh from seeds (--routes) and
// from the forest registry (discovery), pub/sub across nodes, a partition (a node's link
// down: its routes go stale and are dropped on both sides while the others keep talking) and
// the heal (the dialers come back and traffic flows to and from that node again).
//
// Needs root and iproute2; elsewhere each test WARNs why and claims nothing, so the suite
// still passes (set FOREST_NETNS_REQUIRED=1 to make that a failure instead). Fixed ports are
// fine here: each namespace has its own. Servers ping every second and give up after two
// missed pings, so a partition is noticed in seconds; every wait polls against a deadline.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>
#include <utility>

#include "http_get.hpp"
#include "netns_lab.hpp"
#include "raw_client.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int kClientPort = 4222;
constexpr int kRoutePort = 6222;
constexpr int kHttpPort = 8222;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("forest-netns-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The lab, or nothing (after a WARN saying why) when this machine cannot build one.
std::unique_ptr<NetnsLab> lab_or_skip(int nodes) {
  auto lab = NetnsLab::create(nodes);
  if (lab) return std::move(*lab);
  const char* required = std::getenv("FOREST_NETNS_REQUIRED");
  if (required != nullptr && std::string(required) == "1") FAIL("network namespaces unavailable: " << lab.error());
  WARN("skipped, network namespaces unavailable: " << lab.error());
  return nullptr;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return pred();
}

// A NATS client over raw bytes that answers the server's PINGs (they come every second here).
// Lines are read whole: a MSG's payload (no CR/LF in ours) is the line after its header.
class NatsClient {
 public:
  NatsClient(const std::string& host, int port) : raw_(host, port) {
    if (!raw_.connected()) return;
    if (next_line(5s).rfind("INFO ", 0) != 0) return;
    ok_ = raw_.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"netns-test\"}\r\n") && ping(5s);
  }
  [[nodiscard]] bool ok() const { return ok_; }

  bool subscribe(const std::string& subject) { return raw_.send("SUB " + subject + " 1\r\n") && ping(5s); }
  bool publish(const std::string& subject, const std::string& payload) {
    return raw_.send("PUB " + subject + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n");
  }
  // A round trip: everything sent before has been processed by the server.
  bool ping(std::chrono::milliseconds timeout) {
    const int want = pongs_ + 1;
    if (!raw_.send("PING\r\n")) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pongs_ < want && std::chrono::steady_clock::now() < deadline) {
      if (!step(deadline)) return false;
    }
    return pongs_ >= want;
  }
  // Reads for up to `timeout` (answering PINGs); returns the payloads of the MSGs that came.
  std::vector<std::string> poll(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && step(deadline)) {
    }
    return std::exchange(messages_, {});
  }

 private:
  // One complete line, or "" when none came before the deadline (a partial one is kept).
  std::string next_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && !raw_.peer_closed()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      partial_ += raw_.read_line(std::max(left, 1ms));
      if (partial_.size() >= 2 && partial_.ends_with("\r\n")) return std::exchange(partial_, {});
    }
    return "";
  }
  // Handles one line from the server; false when the connection is gone.
  bool step(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const std::string line = next_line(std::max(left, 1ms));
    if (line.empty()) return !raw_.peer_closed();
    if (line == "PING\r\n") {
      raw_.send("PONG\r\n");
    } else if (line == "PONG\r\n") {
      ++pongs_;
    } else if (line.rfind("MSG ", 0) == 0) {
      const std::string payload = next_line(5s);
      messages_.push_back(payload.substr(0, payload.size() >= 2 ? payload.size() - 2 : 0));
    } else if (line.rfind("-ERR", 0) == 0) {
      errors_ += line;
    }
    return true;
  }

  RawClient raw_;
  bool ok_ = false;
  int pongs_ = 0;
  std::string partial_;
  std::string errors_;
  std::vector<std::string> messages_;
};

// (remote_name, ip) of each route a node lists in /routez, asked from inside its namespace
// (over its loopback, so it works while the node is partitioned). Duplicates are kept: a
// full mesh has exactly one route per peer. nats-server 2.9 has no remote_name: "".
using RouteSet = std::multiset<std::pair<std::string, std::string>>;

RouteSet routes_of(NetnsLab& lab, int i) {
  const std::string body = lab.in_node(i, [] { return http_get("::1", kHttpPort, "/routez"); });
  RouteSet out;
  simdjson::dom::parser p;
  simdjson::dom::element e;
  if (p.parse(body).get(e) != simdjson::SUCCESS) {
    out.emplace("<no /routez>", body);
    return out;
  }
  simdjson::dom::array routes;
  if (e["routes"].get(routes) != simdjson::SUCCESS) return out;
  for (auto r : routes) {
    std::string_view name;
    std::string_view ip;
    if (r["remote_name"].get(name) != simdjson::SUCCESS) name = "";
    if (r["ip"].get(ip) != simdjson::SUCCESS) ip = "<no ip>";
    out.emplace(std::string(name), std::string(ip));
  }
  return out;
}

std::string server_name(const std::string& varz) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  std::string_view name;
  if (p.parse(varz).get(e) != simdjson::SUCCESS || e["server_name"].get(name) != simdjson::SUCCESS) return "<no /varz>";
  return std::string(name);
}

std::string describe(const RouteSet& s) {
  std::string out = "{";
  for (const auto& [name, ip] : s) out += " " + (name.empty() ? ip : name + "@" + ip);
  return out + " }";
}

// The servers under test, one per namespace: node i runs `binary` in namespace i and its peers
// see it as names[i - 1] ("" for nats-server, whose /routez has no names).
class Cluster {
 public:
  Cluster(NetnsLab& lab, std::string binary, std::vector<std::string> names)
      : lab_(lab), binary_(std::move(binary)), names_(std::move(names)) {
    servers_.resize(names_.size() + 1);
  }
  ~Cluster() { stop_all(); }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  void start(int i, const std::vector<std::string>& args) {
    servers_[static_cast<std::size_t>(i)] = ServerProcess::start(
        NetnsLab::ip_binary(), lab_.exec_args(i, binary_, args), 15s);
  }
  void stop_all() {
    for (auto& s : servers_) {
      if (s) s->stop();
    }
  }

  // The routes node i should have when the nodes in `reachable` (i among them) are connected.
  [[nodiscard]] RouteSet expected(int i, const std::set<int>& reachable) const {
    RouteSet out;
    if (!reachable.contains(i)) return out;
    for (int j : reachable) {
      if (j != i) out.emplace(names_[static_cast<std::size_t>(j - 1)], lab_.address(j));
    }
    return out;
  }

  // Every node in `nodes` has exactly the routes `expect(i)` says, within `timeout`.
  bool wait_routes(const std::set<int>& nodes, const std::function<RouteSet(int)>& expect,
                   std::chrono::milliseconds timeout) {
    const bool ok = eventually(
        [&] {
          for (int i : nodes) {
            if (routes_of(lab_, i) != expect(i)) return false;
          }
          return true;
        },
        timeout);
    if (!ok) {
      for (int i : nodes) {
        UNSCOPED_INFO("node " << i << " routes " << describe(routes_of(lab_, i)) << ", expected " << describe(expect(i)));
      }
      dump_logs();
    }
    return ok;
  }
  // All of `group` connected to each other (and nothing else).
  bool wait_mesh(const std::set<int>& group, std::chrono::milliseconds timeout) {
    return wait_routes(group, [&](int i) { return expected(i, group); }, timeout);
  }

  // A message published on node `from` reaches a subscriber on node `to`, both clients in the
  // root namespace talking to the nodes' IPv6 addresses over the bridge. Publishes until one
  // arrives (the subscription reaches `from` over the route asynchronously).
  bool flows(int from, int to, const std::string& subject, std::chrono::milliseconds timeout = 15s) {
    NatsClient sub(lab_.address(to), kClientPort);
    NatsClient pub(lab_.address(from), kClientPort);
    bool ok = sub.ok() && pub.ok() && sub.subscribe(subject);
    if (ok) {
      ok = eventually(
          [&, k = 0]() mutable {
            if (!pub.publish(subject, subject + "-" + std::to_string(++k))) return false;
            pub.poll(1ms);  // answer its PINGs
            for (const auto& m : sub.poll(300ms)) {
              if (m.rfind(subject + "-", 0) == 0) return true;
            }
            return false;
          },
          timeout);
    }
    if (!ok) {
      UNSCOPED_INFO("no message from node " << from << " to node " << to << " on " << subject << " (clients connected: sub "
                                            << sub.ok() << ", pub " << pub.ok() << ")");
      dump_logs();
    }
    return ok;
  }

  void dump_logs() const {
    for (std::size_t i = 1; i < servers_.size(); ++i) {
      if (!servers_[i]) continue;
      const std::string log = servers_[i]->log();
      UNSCOPED_INFO("--- node " << i << " log (last 6000 bytes):\n" << log.substr(log.size() > 6000 ? log.size() - 6000 : 0));
    }
  }

  ServerProcess& server(int i) { return *servers_[static_cast<std::size_t>(i)]; }

 private:
  NetnsLab& lab_;
  std::string binary_;
  std::vector<std::string> names_;                      // node i is names_[i - 1]
  std::vector<std::unique_ptr<ServerProcess>> servers_;  // [0] unused
};

// A partition is noticed through pings: once a second, two missed ones close the route.
std::string write_config(const TempDir& dir) {
  const std::string path = (dir.path / "netns.conf").string();
  std::ofstream(path) << "ping_interval: \"1s\"\nping_max: 2\n";
  return path;
}

void partition_and_heal(NetnsLab& lab, Cluster& c, int cut, const std::string& tag) {
  std::set<int> rest;
  for (int i = 1; i <= lab.nodes(); ++i) {
    if (i != cut) rest.insert(i);
  }
  std::set<int> all = rest;
  all.insert(cut);
  INFO("partition of node " << cut);
  REQUIRE(lab.set_link(cut, false).empty());
  // Stale routes go on both sides; the rest stay a mesh among themselves.
  CHECK(c.wait_routes(all, [&](int i) { return i == cut ? RouteSet{} : c.expected(i, rest); }, 30s));
  const int a = *rest.begin();
  const int b = *rest.rbegin();
  CHECK(c.flows(a, b, tag + ".during.ab"));
  CHECK(c.flows(b, a, tag + ".during.ba"));

  REQUIRE(lab.set_link(cut, true).empty());
  CHECK(c.wait_mesh(all, 40s));
  CHECK(c.flows(cut, a, tag + ".healed.from"));
  CHECK(c.flows(b, cut, tag + ".healed.to"));
}

// 2 and 3 know only 1 (gossip joins them); 3 starts once 2 is routed, so that the 2-3 route
// is dialed by 2 from what 1 gossips, as in a forest growing one node at a time.
void routes_scenario(NetnsLab& lab, const std::string& binary, bool named) {
  TempDir dir;
  const std::string conf = write_config(dir);
  Cluster c(lab, binary, named ? std::vector<std::string>{"node-1", "node-2", "node-3"} : std::vector<std::string>(3));
  for (int i = 1; i <= 3; ++i) {
    std::vector<std::string> args{"-c", conf, "-a", "::", "-p", std::to_string(kClientPort), "-m", std::to_string(kHttpPort),
                                  "-n", "node-" + std::to_string(i), "--cluster_name", "netns",
                                  "--cluster", lab.url(i, kRoutePort)};
    if (i > 1) {
      args.push_back("--routes");
      args.push_back(lab.url(1, kRoutePort));
    }
    c.start(i, args);
    if (i == 2) REQUIRE(c.wait_mesh({1, 2}, 20s));
  }
  // The monitoring ports answer from the root namespace too, over the bridge.
  for (int i = 1; i <= 3; ++i) {
    INFO("node " << i);
    CHECK(server_name(http_get(lab.address(i), kHttpPort, "/varz")) == "node-" + std::to_string(i));
  }
  REQUIRE(c.wait_mesh({1, 2, 3}, 20s));
  CHECK(c.flows(1, 2, "mesh.12"));
  CHECK(c.flows(2, 3, "mesh.23"));  // over the gossiped route
  CHECK(c.flows(3, 1, "mesh.31"));

  // The seed (dialed by the others, so they redial it forever), then node 3, whose route to
  // node 2 came from gossip: after the heal it is learned again through the seed.
  partition_and_heal(lab, c, 1, "seed");
  partition_and_heal(lab, c, 3, "gossiped");
  c.stop_all();
}

}  // namespace

TEST_CASE("routes over IPv6 between network namespaces: mesh, partition, heal", "[netns][cluster]") {
  auto lab = lab_or_skip(3);
  if (!lab) return;
  routes_scenario(*lab, ServerProcess::forest_binary(), true);
}

// The same scenario against the reference, so that the test itself is checked.
TEST_CASE("the same with nats-server 2.9.10 (the reference)", "[netns][cluster][reference]") {
  if (skip_oracle_only()) {
    WARN("skipped: FOREST_SKIP_ORACLE=1 (nats-server alone)");
    return;
  }
  if (::access(ServerProcess::nats_binary().c_str(), X_OK) != 0) {
    WARN("skipped: no " << ServerProcess::nats_binary());
    return;
  }
  auto lab = lab_or_skip(3);
  if (!lab) return;
  routes_scenario(*lab, ServerProcess::nats_binary(), false);
}

TEST_CASE("discovery over IPv6 between network namespaces: registry mesh, partition, heal", "[netns][discovery]") {
  auto lab = lab_or_skip(3);
  if (!lab) return;
  TempDir dir;
  const std::string conf = write_config(dir);
  const std::string registry = (dir.path / "registry.json").string();
  {
    // node-3 also has an IPv4 `ip`, as the Go app writes: its `ipv6` wins.
    std::ofstream out(registry);
    out << R"({"nodes":{"forest-netns":[)"
        << R"({"id":"node-1","ip":")" << lab->address(1) << R"(","forest_id":"forest-netns"},)"
        << R"({"id":"node-2","ip":")" << lab->address(2) << R"(","forest_id":"forest-netns"},)"
        << R"({"id":"node-3","ip":"192.0.2.3","ipv6":")" << lab->address(3) << R"(","forest_id":"forest-netns"}]}})";
  }
  Cluster c(*lab, ServerProcess::forest_binary(), {"node-1", "node-2", "node-3"});
  for (int i = 1; i <= 3; ++i) {
    const std::string node_info = (dir.path / ("node-info-" + std::to_string(i) + ".json")).string();
    std::ofstream(node_info) << R"({"forest_id":"forest-netns","node_id":"node-)" << i << R"("})";
    std::vector<std::string> args{"-c", conf, "-a", "::", "-p", std::to_string(kClientPort), "-m", std::to_string(kHttpPort),
                                  "--node-info", node_info, "--registry", registry, "--registry_interval", "500ms"};
    if (i < 3) {  // node-3 takes the forest's default route listener (port 6222, every address)
      args.push_back("--cluster");
      args.push_back(lab->url(i, kRoutePort));
    }
    c.start(i, args);
  }
  REQUIRE(c.wait_mesh({1, 2, 3}, 20s));
  CHECK(c.flows(1, 3, "disc.13"));
  CHECK(c.flows(3, 2, "disc.32"));
  partition_and_heal(*lab, c, 2, "disc");
  c.stop_all();
}

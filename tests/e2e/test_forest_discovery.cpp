// The seed's scenario through discovery alone: node 1 alone with a registry that lists only
// itself, nodes 2..4 appended to the registry one by one while the others run, a full mesh of
// four; a node removed from the registry is not dialed again; concurrent `registry add`
// writers lose nothing; standalone and malformed files at startup.
//
// One machine plays four: each node's route port listens on its own loopback address
// (127.0.0.2 ... 127.0.0.5, all loopback on Linux) with one common port, as a forest's nodes
// share theirs; the registry lists those addresses. Client and monitoring ports are ephemeral.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "loopback_forest.hpp"
#include "run_command.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class Forest {
 public:
  explicit Forest(const TempDir& dir) : dir_(dir), registry_((dir.path / "registry.json").string()) {
    std::ofstream(registry_) << R"({"nodes":{"forest-t":[]}})";
  }
  std::string address(int i) const { return "127.0.0." + std::to_string(i + 1); }
  void add_to_registry(int i) {
    std::string out;
    REQUIRE(run_command({ServerProcess::forest_binary(), "registry", "add", "--id", "node-" + std::to_string(i), "--ip",
                 address(i), "--forest", "forest-t", "--registry", registry_},
                &out) == 0);
  }
  void remove_from_registry(int i) {
    REQUIRE(run_command({ServerProcess::forest_binary(), "registry", "remove", "--id", "node-" + std::to_string(i), "--forest",
                 "forest-t", "--registry", registry_}) == 0);
  }
  std::unique_ptr<ServerProcess> start(int i, int route_port) {
    const std::string node_info = (dir_.path / ("node-info-" + std::to_string(i) + ".json")).string();
    std::ofstream(node_info) << R"({"forest_id":"forest-t","node_id":"node-)" << i << R"(","node_index":)" << i << "}";
    return ServerProcess::start(ServerProcess::forest_binary(),
                                {"-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--cluster",
                                 "nats://" + address(i) + ":" + std::to_string(route_port), "--node-info", node_info,
                                 "--registry", registry_, "--registry_interval", "200ms"});
  }
  const std::string& registry() const { return registry_; }

 private:
  const TempDir& dir_;
  std::string registry_;
};

}  // namespace

TEST_CASE("the seed's forest: nodes join one by one through the registry and form a full mesh", "[discovery][cluster]") {
  TempDir dir;
  Forest forest(dir);
  const int port = common_free_port({"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"});
  REQUIRE(port > 0);
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  forest.add_to_registry(1);
  nodes.push_back(forest.start(1, port));
  CHECK(nodes[0]->log().find("Discovery: forest forest-t, node node-1") != std::string::npos);
  for (int i = 2; i <= 4; ++i) {
    forest.add_to_registry(i);  // appended while the others run
    nodes.push_back(forest.start(i, port));
  }
  for (int i = 1; i <= 4; ++i) {
    std::set<std::string> others;
    for (int j = 1; j <= 4; ++j) {
      if (j != i) others.insert("node-" + std::to_string(j));
    }
    INFO("node-" << i);
    CHECK(eventually([&] { return route_names("127.0.0.1", nodes[static_cast<std::size_t>(i - 1)]->http_port()) == others; }, 20s));
  }

  // node-4 leaves the registry, then goes: the others stop dialing it after at most a try.
  forest.remove_from_registry(4);
  std::this_thread::sleep_for(1s);  // a few polls of the 200 ms registry interval
  nodes[3]->stop();
  CHECK(eventually([&] { return route_names("127.0.0.1", nodes[0]->http_port()).size() == 2; }, 10s));
  const auto attempts = [&] {
    std::size_t n = 0;
    const std::string log = nodes[0]->log();
    const std::string needle = "Error trying to connect to route";
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  std::this_thread::sleep_for(3s);
  const std::size_t before = attempts();
  std::this_thread::sleep_for(3s);
  CHECK(attempts() == before);  // not redialed forever
  for (auto& n : nodes) {
    if (n->running()) n->stop();
  }
}

TEST_CASE("two registry writers at once lose nothing", "[discovery]") {
  TempDir dir;
  const std::string registry = (dir.path / "registry.json").string();
  auto writer = [&](int base) {
    for (int i = 0; i < 15; ++i) {
      const int id = base + i;
      run_command({ServerProcess::forest_binary(), "registry", "add", "--id", "w-" + std::to_string(id), "--ip",
           "10.0." + std::to_string(id / 250) + "." + std::to_string(id % 250 + 1), "--forest", "f", "--registry",
           registry});
    }
  };
  std::thread a(writer, 0), b(writer, 100);
  a.join();
  b.join();
  std::string out;
  REQUIRE(run_command({ServerProcess::forest_binary(), "registry", "list", "--forest", "f", "--registry", registry}, &out) == 0);
  std::size_t listed = 0;
  for (auto at = out.find("w-"); at != std::string::npos; at = out.find("w-", at + 1)) ++listed;
  CHECK(listed == 30);
}

TEST_CASE("without node-info a server runs standalone; a malformed one is a startup error", "[discovery]") {
  TempDir dir;
  auto standalone = ServerProcess::start(ServerProcess::forest_binary(),
                                         {"-a", "127.0.0.1", "-p", "-1", "--node-info", (dir.path / "absent.json").string(),
                                          "--registry", (dir.path / "registry.json").string()});
  CHECK(standalone->log().find("standalone") != std::string::npos);
  CHECK(standalone->log().find("Listening for route connections") == std::string::npos);
  standalone->stop();

  const std::string bad = (dir.path / "bad.json").string();
  std::ofstream(bad) << "{\"forest_id\": \"f\",\n \"node_id\": }";
  std::string out;
  CHECK(run_command({ServerProcess::forest_binary(), "-a", "127.0.0.1", "-p", "-1", "--node-info", bad}, &out) == 1);
  CHECK(out.find(bad + ":2:") != std::string::npos);  // file and line of the error
}

// The `forest` binary as an operator runs it: three `forest run` processes, each with its own
// node-info file and one shared registry, form a full mesh, and a leaf (the Go app's JSON)
// published on one node reaches clients of the others byte for byte; `forest status` reports
// the node; SIGHUP reloads instead of killing it; without node-info it runs standalone; a
// broken node-info is a clear startup error; a missing data dir is created.
//
// One machine plays three, as in test_forest_discovery.cpp: each node listens on its own
// loopback address (127.0.0.2 ... 127.0.0.4) with one common cluster port.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
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

std::string forest_app() {
  const char* p = std::getenv("FOREST_APP");
  return p != nullptr ? p : "build/app/forest";
}

struct Natsc {
  natsConnection* nc = nullptr;
  explicit Natsc(const std::string& url) { natsConnection_ConnectTo(&nc, url.c_str()); }
  ~Natsc() { natsConnection_Destroy(nc); }
};

}  // namespace

TEST_CASE("three forest nodes from node-info files and one registry form a mesh; a leaf crosses it", "[forest-app]") {
  TempDir dir;
  const std::string registry = (dir.path / "registry.json").string();
  std::ofstream(registry) << R"({"nodes":{"forest-t":[]}})";
  const int port = common_free_port({"127.0.0.2", "127.0.0.3", "127.0.0.4"});
  REQUIRE(port > 0);
  auto host = [](int i) { return "127.0.0." + std::to_string(i + 1); };
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(run_command({forest_app(), "registry", "add", "--id", "node-" + std::to_string(i), "--ip", host(i),
                         "--forest", "forest-t", "--registry", registry}) == 0);
  }
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  for (int i = 1; i <= 3; ++i) {
    const std::string node_info = (dir.path / ("node-info-" + std::to_string(i) + ".json")).string();
    std::ofstream(node_info) << R"({"forest_id":"forest-t","node_id":"node-)" << i << R"(","node_index":)" << i << "}";
    const fs::path data = dir.path / ("data-" + std::to_string(i)) / "jetstream";  // does not exist yet
    std::vector<std::string> args = {"run", "-a", host(i), "-p", "-1", "-m", "-1", "--cluster-port",
                                     std::to_string(port), "--node-info", node_info, "--registry", registry,
                                     "--data-dir", data.string(), "--registry-interval", "200ms"};
    if (i == 1) args.push_back("--demo");  // node 1 runs the example tree and nim
    nodes.push_back(ServerProcess::start(forest_app(), args, 20s));
    REQUIRE(nodes.back()->client_port() > 0);
    REQUIRE(nodes.back()->http_port() > 0);
    CHECK(fs::is_directory(data));
  }
  for (int i = 1; i <= 3; ++i) {
    std::set<std::string> others;
    for (int j = 1; j <= 3; ++j) {
      if (j != i) others.insert("node-" + std::to_string(j));
    }
    INFO("node-" << i);
    CHECK(eventually([&] { return route_names(host(i), nodes[static_cast<std::size_t>(i - 1)]->http_port()) == others; },
                     20s));
  }

  // A leaf as the Go app writes it, published on node 1, arrives unchanged at nodes 2 and 3.
  const std::string leaf =
      R"({"subject":"payment.completed","data":{"amount":150},"source":"payment-tree","ts":"2026-01-15T11:16:31.123456789Z"})";
  auto url = [&](int i) { return "nats://" + host(i) + ":" + std::to_string(nodes[static_cast<std::size_t>(i - 1)]->client_port()); };
  Natsc pub(url(1)), sub2(url(2)), sub3(url(3));
  REQUIRE(pub.nc != nullptr);
  REQUIRE(sub2.nc != nullptr);
  REQUIRE(sub3.nc != nullptr);
  natsSubscription *s2 = nullptr, *s3 = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&s2, sub2.nc, "payment.>") == NATS_OK);
  REQUIRE(natsConnection_SubscribeSync(&s3, sub3.nc, "payment.>") == NATS_OK);
  REQUIRE(natsConnection_Flush(sub2.nc) == NATS_OK);
  REQUIRE(natsConnection_Flush(sub3.nc) == NATS_OK);
  // Interest crosses the routes asynchronously: publish until both have one.
  auto received = [](natsSubscription* s, std::string& into) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, s, 100) != NATS_OK) return false;
    into.assign(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
    return true;
  };
  std::string got2, got3;
  CHECK(eventually([&] {
    natsConnection_PublishString(pub.nc, "payment.completed", leaf.c_str());
    natsConnection_Flush(pub.nc);
    if (got2.empty()) received(s2, got2);
    if (got3.empty()) received(s3, got3);
    return !got2.empty() && !got3.empty();
  }, 10s));
  CHECK(got2 == leaf);
  CHECK(got3 == leaf);
  natsSubscription_Destroy(s2);
  natsSubscription_Destroy(s3);

  // The app itself: a trigger leaf makes node 1's demo flow sample payments into its river;
  // its payment-tree observes them and drops payment.completed leaves on its wind, which
  // nodes 2 and 3 catch, as the Go app writes them.
  natsSubscription *p2 = nullptr, *p3 = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&p2, sub2.nc, "payment.completed") == NATS_OK);
  REQUIRE(natsConnection_SubscribeSync(&p3, sub3.nc, "payment.completed") == NATS_OK);
  REQUIRE(natsConnection_Flush(sub2.nc) == NATS_OK);
  REQUIRE(natsConnection_Flush(sub3.nc) == NATS_OK);
  const std::string trigger =
      R"({"subject":"forest.demo.flow","data":{},"source":"forest-app-test","ts":"2026-12-02T00:00:00Z"})";
  std::string paid2, paid3;
  CHECK(eventually([&] {
    natsConnection_PublishString(pub.nc, "forest.demo.flow", trigger.c_str());
    natsConnection_Flush(pub.nc);
    for (int k = 0; k < 5 && (paid2.empty() || paid3.empty()); ++k) {
      if (paid2.empty()) received(p2, paid2);
      if (paid3.empty()) received(p3, paid3);
    }
    return !paid2.empty() && !paid3.empty();
  }, 20s));
  // The Go app's field order and compact form (which sample comes first depends on when the
  // subscription met the flow).
  const std::string shape = R"({"subject":"payment.completed","data":{"customer_id":"cus_demo)";
  CHECK(paid2.rfind(shape, 0) == 0);
  CHECK(paid3.rfind(shape, 0) == 0);
  CHECK(paid2.find(R"("source":"payment-tree","ts":")") != std::string::npos);
  CHECK(nodes[0]->wait_for_log("demo: soil task-cus_demo1-", 10s));
  natsSubscription_Destroy(p2);
  natsSubscription_Destroy(p3);

  // forest status reads node 1's monitoring endpoint.
  std::string status;
  REQUIRE(run_command({forest_app(), "status", "--monitor",
                       "http://" + host(1) + ":" + std::to_string(nodes[0]->http_port())},
                      &status) == 0);
  CHECK(status.find("node:        node-1") != std::string::npos);
  CHECK(status.find("routes:      2") != std::string::npos);
  CHECK(status.find("cluster:     forest-t") != std::string::npos);

  // SIGHUP reloads; the Go app died on it.
  nodes[0]->send_signal(SIGHUP);
  CHECK(nodes[0]->wait_for_log("Reloaded server configuration", 5s));
  CHECK(nodes[0]->running());
  for (auto& n : nodes) CHECK(n->stop() == 0);
}

TEST_CASE("forest run: no node-info is standalone, a broken one is a clear error, bad flags are refused",
          "[forest-app]") {
  TempDir dir;
  auto standalone = ServerProcess::start(forest_app(), {"run", "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--node-info",
                                                        (dir.path / "absent.json").string(), "--registry",
                                                        (dir.path / "registry.json").string(), "--data-dir",
                                                        (dir.path / "js").string(), "--cluster-port", "-1"},
                                         20s);
  REQUIRE(standalone->client_port() > 0);
  CHECK(standalone->log().find("standalone") != std::string::npos);
  // The server listens before the forest core has made its streams; "ready" comes after them.
  REQUIRE(standalone->wait_for_log("ready: clients", 20s));
  std::string status;
  CHECK(run_command({forest_app(), "status", "--monitor", "http://127.0.0.1:" + std::to_string(standalone->http_port())},
                    &status) == 0);
  // The forest core's streams and the decomposer's consumer: RIVER, HUMUS, KV_SOIL.
  CHECK(status.find("jetstream:   3 streams, 1 consumers") != std::string::npos);
  CHECK(status.find("consumer decomposer") != std::string::npos);
  CHECK(standalone->stop() == 0);

  // The demo: sample payments through river, tree, leaf, nim, humus and soil, in the binary.
  auto demo = ServerProcess::start(forest_app(), {"standalone", "--demo", "-a", "127.0.0.1", "-p", "-1", "-m", "-1",
                                                  "--data-dir", (dir.path / "demo").string()},
                                   20s);
  CHECK(demo->wait_for_log("demo: soil task-cus_demo4-", 20s));
  const std::string demo_log = demo->log();
  CHECK(demo_log.find("demo: soil task-cus_demo1-") != std::string::npos);
  CHECK(demo_log.find("demo: soil task-cus_demo3-failed-") != std::string::npos);
  CHECK(demo->stop() == 0);

  const std::string bad = (dir.path / "bad.json").string();
  std::ofstream(bad) << "{\"forest_id\": \"f\",\n \"node_id\": }";
  std::string out;
  CHECK(run_command({forest_app(), "run", "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--node-info", bad, "--data-dir",
                     (dir.path / "js2").string(), "--cluster-port", std::to_string(free_port())},
                    &out) == 1);
  CHECK(out.find(bad + ":2:") != std::string::npos);

  out.clear();
  CHECK(run_command({forest_app(), "run", "--client-port", "99999"}, &out) == 2);
  CHECK(out.find("not a port") != std::string::npos);
  out.clear();
  CHECK(run_command({forest_app(), "frobnicate"}, &out) == 2);
  CHECK(out.find("unknown command") != std::string::npos);
  out.clear();
  CHECK(run_command({forest_app(), "version"}, &out) == 0);
  CHECK(out.find("forest v") != std::string::npos);
  out.clear();
  CHECK(run_command({forest_app(), "status", "--monitor", "http://127.0.0.1:1"}, &out) == 1);
  CHECK(out.find("cannot connect") != std::string::npos);
}

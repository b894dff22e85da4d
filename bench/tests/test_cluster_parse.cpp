// What the cluster bench reads from the servers: the route port in the log and /routez, on
// bodies recorded from nats-server 2.9.10 (indented, $SYS subjects, queue groups as the bare
// subject) and forest-server (compact, "subject queue").
#include <catch2/catch.hpp>

#include "../cluster_parse.hpp"

using namespace forest::bench;

namespace {

// nats-server 2.9.10, node 0 of two, a client on node 1 subscribed to bench.q (queue workers)
// and bench.s; the list trimmed (it has 41 entries, most of them $SYS).
const char* kNatsRoutez = R"({
  "server_id": "NBIBNDNRNZKKWPYZELGCAGES3DEWFK6V5Y4ANU3LX3NUQXP3EIETBEDF",
  "now": "2026-12-01T11:38:09.765348535Z",
  "num_routes": 1,
  "routes": [
    {
      "rid": 4,
      "remote_id": "NCJFMLFXIA6KI7Z5KQ3MJOXDKEQ2YPRQSHTJMFHL4SKIZOXOGNH5Q55Q",
      "did_solicit": false,
      "is_configured": false,
      "ip": "127.0.0.1",
      "port": 44962,
      "rtt": "357µs",
      "pending_size": 0,
      "subscriptions": 5,
      "subscriptions_list": [
        "$SYS._INBOX_.NCJFMLFXIA6KI7Z5KQ3MJOXDKEQ2YPRQSHTJMFHL4SKIZOXOGNH5Q55Q",
        "$SYS.ACCOUNT.*.LEAFNODE.CONNECT",
        "bench.q",
        "$SYS.SERVER.*.STATSZ",
        "bench.s"
      ]
    }
  ]
})";

// forest-server, the same situation.
const char* kForestRoutez =
    R"({"server_id":"NDS4WZ2HU2UPR5Z2WLL7I2CKXXMJI77FVD4HYJ4MXLASCTHVFJXWV5CB","server_name":"NDS4","now":"2026-12-01T11:38:07Z",)"
    R"("num_routes":2,"routes":[{"rid":1,"remote_id":"NAZV","remote_name":"NAZV","did_solicit":false,"is_configured":false,)"
    R"("ip":"127.0.0.1","port":35520,"subscriptions":2,"subscriptions_list":["bench.q workers","bench.s"]},)"
    R"({"rid":2,"remote_id":"NBQQ","remote_name":"NBQQ","subscriptions":0}]})";

}  // namespace

TEST_CASE("the route port is read from a complete log line only", "[bench][cluster]") {
  const std::string marker = "Listening for route connections on ";
  const std::string line = "[24043] 2026/12/01 11:34:00.231292 [INF] Listening for route connections on 127.0.0.1:39549";
  CHECK(port_from_log("", marker) == 0);
  CHECK(port_from_log("[1] [INF] Listening for client connections on 127.0.0.1:4222\n", marker) == 0);
  CHECK(port_from_log(line + "\n", marker) == 39549);
  CHECK(port_from_log(line + "\r\n", marker) == 39549);
  // Every prefix of the line (a read cut anywhere) gives 0, never a truncated port.
  for (std::size_t cut = 0; cut <= line.size(); ++cut) CHECK(port_from_log(line.substr(0, cut), marker) == 0);
  CHECK(port_from_log("x\n" + line + "\nmore\n", marker) == 39549);
  CHECK(port_from_log("[1] [INF] Listening for route connections on [::1]:6222\n", marker) == 6222);
  CHECK(port_from_log("[1] [INF] Listening for route connections on 127.0.0.1:99999\n", marker) == 0);
  CHECK(port_from_log("[1] [INF] Listening for route connections on 127.0.0.1:12ab\n", marker) == 0);
}

TEST_CASE("/routez of nats-server: routes, remote ids, interest", "[bench][cluster]") {
  std::string error;
  const auto rz = parse_routez(kNatsRoutez, &error);
  REQUIRE(rz);
  CHECK(rz->server_id == "NBIBNDNRNZKKWPYZELGCAGES3DEWFK6V5Y4ANU3LX3NUQXP3EIETBEDF");
  CHECK(rz->num_routes == 1);
  REQUIRE(rz->routes.size() == 1);
  CHECK(rz->routes[0].remote_id == "NCJFMLFXIA6KI7Z5KQ3MJOXDKEQ2YPRQSHTJMFHL4SKIZOXOGNH5Q55Q");
  CHECK(rz->routes[0].subs.size() == 5);
  CHECK(route_has_interest(rz->routes[0], "bench.s"));
  CHECK(route_has_interest(rz->routes[0], "bench.q"));
  CHECK_FALSE(route_has_interest(rz->routes[0], "bench"));
  CHECK_FALSE(route_has_interest(rz->routes[0], "bench.x"));
}

TEST_CASE("/routez of forest-server: queue entries are 'subject queue'", "[bench][cluster]") {
  std::string error;
  const auto rz = parse_routez(kForestRoutez, &error);
  REQUIRE(rz);
  CHECK(rz->num_routes == 2);
  REQUIRE(rz->routes.size() == 2);
  CHECK(route_has_interest(rz->routes[0], "bench.q"));
  CHECK(route_has_interest(rz->routes[0], "bench.s"));
  CHECK_FALSE(route_has_interest(rz->routes[0], "bench.qq"));
  CHECK(rz->routes[1].remote_id == "NBQQ");
  CHECK(rz->routes[1].subs.empty());
  CHECK_FALSE(route_has_interest(rz->routes[1], "bench.s"));
}

TEST_CASE("/routez that is not what a server sends is an error, not a mesh", "[bench][cluster]") {
  std::string error;
  CHECK_FALSE(parse_routez("", &error));
  CHECK_FALSE(parse_routez("404 page not found", &error));
  CHECK(error.find("not JSON") != std::string::npos);
  CHECK_FALSE(parse_routez(R"({"server_id":"X"})", &error));
  CHECK(error.find("num_routes") != std::string::npos);
  CHECK_FALSE(parse_routez(R"({"server_id":"X","num_routes":1,"routes":[{"rid":1}]})", &error));
  const auto none = parse_routez(R"({"server_id":"X","num_routes":0,"routes":[]})", &error);
  REQUIRE(none);
  CHECK(none->routes.empty());
}

TEST_CASE("subnodes: a node or a range inside the cluster", "[bench][cluster]") {
  std::string error;
  auto one = parse_node_range("1", 3, &error);
  REQUIRE(one);
  CHECK(one->first == 1);
  CHECK(one->last == 1);
  auto range = parse_node_range("0-2", 3, &error);
  REQUIRE(range);
  CHECK(range->first == 0);
  CHECK(range->last == 2);
  for (const char* bad : {"", "3", "2-1", "-1", "1-", "a", "1-3", "1-2x"}) {
    INFO(bad);
    CHECK_FALSE(parse_node_range(bad, 3, &error));
  }
}

TEST_CASE("a server command with leading VAR=value words runs through env", "[bench][cluster]") {
  CHECK(split_server_command("build/app/forest-server --io_threads 1") ==
        std::vector<std::string>{"build/app/forest-server", "--io_threads", "1"});
  CHECK(split_server_command("GOMAXPROCS=1 /usr/sbin/nats-server") ==
        std::vector<std::string>{"/usr/bin/env", "GOMAXPROCS=1", "/usr/sbin/nats-server"});
  CHECK(split_server_command("  ").empty());
}

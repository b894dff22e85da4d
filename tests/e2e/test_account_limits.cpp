// Account limits (`accounts { A { limits { max_connections, max_subscriptions, max_payload } } }`)
// and users' `allowed_connection_types`, end to end on one server. Every case runs against
// forest-server and, with the same config file, nats-server 2.9.10 (unless FOREST_SKIP_ORACLE=1).
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "raw_client.hpp"
#include "run_command.hpp"
#include "server_process.hpp"
#include "loopback_forest.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

struct LimitsConf {
  std::string path;
  explicit LimitsConf(const std::string& text)
      : path((std::filesystem::temp_directory_path() / ("forest-acclim-" + std::to_string(::getpid()) + ".conf"))
                 .string()) {
    std::ofstream(path, std::ios::trunc) << text;
  }
  ~LimitsConf() { std::filesystem::remove(path); }
  void write(const std::string& text) const { std::ofstream(path, std::ios::trunc) << text; }
};

// Rewrites the config and sends SIGHUP; waits until the server logged the reload.
void reload(ServerProcess& s, const LimitsConf& conf, const std::string& text) {
  const std::size_t before = s.log().size();
  conf.write(text);
  s.send_signal(SIGHUP);
  for (int i = 0; i < 250; ++i) {
    if (s.log().find("Reloaded server configuration", before) != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("no reload in the log: " << s.log().substr(before));
}

const char* kLimited = R"(
max_subscriptions: 100
accounts {
  A {
    users = [ {user: a, password: p} ]
    limits { max_connections: 2, max_subscriptions: 2, max_payload: 100 }
  }
  B { users = [ {user: b, password: p} ] }
}
)";

std::unique_ptr<ServerProcess> start(const std::string& kind, const LimitsConf& conf) {
  auto s = ServerProcess::start(kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(),
                                {"-a", "127.0.0.1", "-p", "-1", "-c", conf.path});
  REQUIRE(s);
  return s;
}

// Connects as `user` (password "p") with `protocol`; returns the client and what came before
// (and including) the PONG of the first PING, or up to the connection's end.
std::pair<std::unique_ptr<RawClient>, std::string> connect(const ServerProcess& s, const std::string& user,
                                                           int protocol = 0) {
  auto c = std::make_unique<RawClient>("127.0.0.1", s.client_port());
  REQUIRE(c->read_line(3s).rfind("INFO ", 0) == 0);
  c->send("CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":" + std::to_string(protocol) + ",\"user\":\"" +
          user + "\",\"pass\":\"p\"}\r\nPING\r\n");
  std::string got;
  for (;;) {
    const std::string line = c->read_line(3s);
    got += line;
    if (line.empty() || line == "PONG\r\n") break;
  }
  return {std::move(c), got};
}

// What arrives before the PONG of a PING sent now ("" when the connection is gone first).
std::string drain(RawClient& c) {
  c.send("PING\r\n");
  std::string out;
  for (;;) {
    const std::string line = c.read_line(3s);
    if (line.empty()) return out;
    out += line;
    if (line == "PONG\r\n") return out;
  }
}

}  // namespace

TEST_CASE("account limits: max_connections counts the account's clients only", "[account-limits]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  LimitsConf conf(kLimited);
  auto server = start(kind, conf);
  auto [a1, got1] = connect(*server, "a");
  CHECK(got1 == "PONG\r\n");
  auto [a2, got2] = connect(*server, "a");
  CHECK(got2 == "PONG\r\n");
  auto [a3, got3] = connect(*server, "a");
  CHECK(got3 == "-ERR 'maximum account active connections exceeded'\r\n");
  CHECK(a3->read_line(2s).empty());  // closed
  // Another account is not limited by A's count.
  for (int i = 0; i < 3; ++i) {
    auto [b, got] = connect(*server, "b");
    CHECK(got == "PONG\r\n");
  }
  // A place freed is taken again (the close is seen by the server a moment later).
  a1.reset();
  CHECK(eventually(
      [&] {
        auto [again, got] = connect(*server, "a");
        return got == "PONG\r\n";
      },
      5s));
}

TEST_CASE("account limits: max_subscriptions below the server's, the connection stays", "[account-limits]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  LimitsConf conf(kLimited);
  auto server = start(kind, conf);
  auto [a, got] = connect(*server, "a");
  REQUIRE(got == "PONG\r\n");
  a->send("SUB x 1\r\nSUB y 2\r\nSUB z 3\r\n");
  CHECK(drain(*a) == "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n");
  // Still open, and the two it has work.
  a->send("PUB y 2\r\nhi\r\n");
  CHECK(drain(*a) == "MSG y 2 2\r\nhi\r\nPONG\r\n");
  // B has only the server's 100.
  auto [b, got_b] = connect(*server, "b");
  REQUIRE(got_b == "PONG\r\n");
  std::string subs;
  for (int i = 0; i < 100; ++i) subs += "SUB s" + std::to_string(i) + " " + std::to_string(i + 1) + "\r\n";
  b->send(subs);
  CHECK(drain(*b) == "PONG\r\n");
  b->send("SUB one.more 101\r\n");
  CHECK(drain(*b) == "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n");
}

TEST_CASE("account limits: max_payload, told in an INFO after the first PONG", "[account-limits]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  LimitsConf conf(kLimited);
  auto server = start(kind, conf);
  // A client that takes async INFO (protocol 1) learns its account's max_payload.
  auto [a, got] = connect(*server, "a", 1);
  CHECK(got == "PONG\r\n");
  const std::string info = a->read_line(3s);
  INFO(info);
  CHECK(info.rfind("INFO {", 0) == 0);
  CHECK(info.find("\"max_payload\":100,") != std::string::npos);
  // Exactly 100 bytes pass; 101 are a violation that closes the connection.
  a->send("SUB big 1\r\nPUB big 100\r\n" + std::string(100, 'x') + "\r\n");
  CHECK(drain(*a) == "MSG big 1 100\r\n" + std::string(100, 'x') + "\r\nPONG\r\n");
  a->send("PUB big 101\r\n" + std::string(101, 'x') + "\r\n");
  CHECK(a->read_line(3s) == "-ERR 'Maximum Payload Violation'\r\n");
  CHECK(a->read_line(2s).empty());
  // Protocol 0 clients get no async INFO; the limit holds for them too.
  auto [a0, got0] = connect(*server, "a");
  CHECK(got0 == "PONG\r\n");
  // B keeps the server's 1 MB: no INFO after its first PONG.
  auto [b, got_b] = connect(*server, "b", 1);
  CHECK(got_b == "PONG\r\n");
  b->send("PUB big 1000\r\n" + std::string(1000, 'x') + "\r\n");
  CHECK(drain(*b) == "PONG\r\n");
  a0->send("PUB big 101\r\n" + std::string(101, 'x') + "\r\n");
  CHECK(a0->read_line(3s) == "-ERR 'Maximum Payload Violation'\r\n");
}

TEST_CASE("users' allowed_connection_types", "[account-limits]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  LimitsConf conf(R"(
authorization {
  users = [
    {user: std, password: p, allowed_connection_types: ["STANDARD"]}
    {user: lower, password: p, allowed_connection_types: ["standard", "mqtt"]}
    {user: ws, password: p, allowed_connection_types: "WEBSOCKET"}
    {user: any, password: p}
  ]
}
)");
  auto server = start(kind, conf);
  CHECK(connect(*server, "std").second == "PONG\r\n");
  CHECK(connect(*server, "lower").second == "PONG\r\n");
  CHECK(connect(*server, "any").second == "PONG\r\n");
  auto [ws, got] = connect(*server, "ws");
  CHECK(got == "-ERR 'Authorization Violation'\r\n");
  CHECK(ws->read_line(2s).empty());
}

TEST_CASE("account limits and connection types: configuration errors", "[account-limits]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const std::string binary = kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
  auto refused = [&](const std::string& text, const std::string& expect) {
    LimitsConf conf(text);
    std::string out;
    INFO(text);
    CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", conf.path, "-t"}, &out) != 0);
    INFO(out);
    CHECK(out.find(expect) != std::string::npos);
  };
  refused("accounts { A { limits: 5 } }\n", "Expected account limits to be a map/struct");
  refused("accounts { A { limits { max_widgets: 5 } } }\n", "Unknown field \"max_widgets\" parsing account limits");
  refused("authorization { users = [ {user: u, password: p, allowed_connection_types: [\"STANDARD\", \"FOO\"]} ] }\n",
          "invalid connection types [\"FOO\"]");
  // Accepted: the short names, and max_leafnodes (no leaf nodes yet, but configs carry it).
  LimitsConf fine("accounts { A { limits { max_conn: 5, max_subs: 5, max_pay: 5, max_leafs: 1 } } }\n");
  std::string out;
  CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", fine.path, "-t"}, &out) == 0);
}

TEST_CASE("account limits: a reload that lowers max_subscriptions closes clients above it", "[account-limits][reload]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  LimitsConf conf("accounts { A { users = [ {user: a, password: p} ], limits { max_subscriptions: 10 } } }\n");
  auto server = start(kind, conf);
  auto [a, got] = connect(*server, "a");
  REQUIRE(got == "PONG\r\n");
  a->send("SUB x 1\r\nSUB y 2\r\nSUB z 3\r\n");
  REQUIRE(drain(*a) == "PONG\r\n");
  auto [few, got_few] = connect(*server, "a");
  REQUIRE(got_few == "PONG\r\n");
  few->send("SUB x 1\r\n");
  REQUIRE(drain(*few) == "PONG\r\n");
  reload(*server, conf, "accounts { A { users = [ {user: a, password: p} ], limits { max_subscriptions: 2 } } }\n");
  // Three are more than two: the error, then the connection closes.
  CHECK(a->read_line(3s) == "-ERR 'maximum subscriptions exceeded'\r\n");
  CHECK(a->read_line(3s).empty());
  // One is fine; a third would be refused (its second still passes).
  few->send("SUB y 2\r\nSUB z 3\r\n");
  CHECK(drain(*few) == "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n");
}

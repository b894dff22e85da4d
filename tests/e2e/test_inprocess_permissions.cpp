// The in-process connection under its user's permissions: the same verdicts and texts as a
// TCP client gets (tests/e2e/test_permissions.cpp checks those against nats-server).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "inprocess_conn.hpp"
#include "io_thread.hpp"
#include "logger.hpp"
#include "raw_client.hpp"
#include "server.hpp"

using namespace forest::broker;
using namespace forest::testing;
using namespace std::chrono_literals;

TEST_CASE("in-process: its user's permissions apply, with nats-server's texts", "[internal][permissions]") {
  Options o;
  o.host = "127.0.0.1";
  o.port = kRandomPort;
  REQUIRE(apply_config_text(o, R"(
authorization {
  users = [
    {user: app, password: p, permissions: { publish: { allow: "out.>", deny: "out.secret" },
                                            subscribe: { allow: ["in.*", "jobs grp"], deny: "in.secret" } } }
    {user: any, password: p}
  ]
}
)", "inproc.conf"));
  Server server(std::move(o), std::make_shared<Logger>());
  REQUIRE(server.start());
  IoThread dispatch(1000);
  dispatch.start();
  InProcessOptions io;
  // Moved in: GCC 12 warns (-Wrestrict, a false positive) on assigning the literals here.
  std::string user = "app", pass = "p";
  io.user = std::move(user);
  io.pass = std::move(pass);
  auto conn = InProcessConn::connect(server, dispatch, io, nullptr);
  REQUIRE(conn);
  auto& c = *conn;

  auto pub = c->publish("elsewhere", "", "x");
  REQUIRE_FALSE(pub);
  CHECK(pub.error() == "Permissions Violation for Publish to \"elsewhere\"");
  CHECK(c->publish("out.secret", "", "x").error() == "Permissions Violation for Publish to \"out.secret\"");
  CHECK(c->subscribe("other", "", [](const InProcessMessage&) {}).error() ==
        "Permissions Violation for Subscription to \"other\"");
  CHECK(c->subscribe("jobs", "nope", [](const InProcessMessage&) {}).error() ==
        "Permissions Violation for Subscription to \"jobs\" using queue \"nope\"");
  CHECK(c->subscribe("jobs", "grp", [](const InProcessMessage&) {}));

  // A wildcard subscription covering the denied in.secret gets in.ok only.
  std::atomic<int> secret{0}, ok{0};
  REQUIRE(c->subscribe("in.*", "", [&](const InProcessMessage& m) { ++(m.subject == "in.secret" ? secret : ok); }));
  RawClient tcp("127.0.0.1", server.client_port());
  REQUIRE(tcp.read_line(3s).rfind("INFO ", 0) == 0);
  tcp.send("CONNECT {\"verbose\":false,\"user\":\"any\",\"pass\":\"p\"}\r\nSUB out.> 1\r\n"
           "PUB in.secret 1\r\ns\r\nPUB in.ok 1\r\no\r\nPING\r\n");
  REQUIRE(tcp.read_line(3s) == "PONG\r\n");
  CHECK(c->publish("out.fine", "", "y"));
  CHECK(tcp.read_line(3s) == "MSG out.fine 1 1\r\n");
  for (int i = 0; i < 100 && ok.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(ok.load() == 1);
  CHECK(secret.load() == 0);

  // A batch: one refused subject refuses the whole batch, with its index; deliveries of a
  // batch to this connection pass the same filter (in.secret never reaches in.*).
  const std::vector<InProcessConn::PublishItem> mixed{{"out.a", "", "1"}, {"out.secret", "", "2"}};
  auto refused = c->publish_batch(mixed);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == "message 1: Permissions Violation for Publish to \"out.secret\"");
  const std::vector<InProcessConn::PublishItem> fine{{"out.b", "", "1"}, {"out.c", "", "2"}};
  REQUIRE(c->publish_batch(fine));
  CHECK(tcp.read_line(3s) == "y\r\n");  // out.fine's payload
  CHECK(tcp.read_line(3s) == "MSG out.b 1 1\r\n");  // not out.a: nothing of the refused batch
  CHECK(tcp.read_line(3s) == "1\r\n");
  CHECK(tcp.read_line(3s) == "MSG out.c 1 1\r\n");
  InProcessOptions other_opts;
  std::string other_user = "any", other_pass = "p";
  other_opts.user = std::move(other_user);
  other_opts.pass = std::move(other_pass);
  auto other = InProcessConn::connect(server, dispatch, other_opts, nullptr);
  REQUIRE(other);
  const std::vector<InProcessConn::PublishItem> to_app{{"in.secret", "", "s"}, {"in.ok", "", "o"}};
  REQUIRE((*other)->publish_batch(to_app));
  for (int i = 0; i < 100 && ok.load() == 1; ++i) std::this_thread::sleep_for(10ms);
  CHECK(ok.load() == 2);
  CHECK(secret.load() == 0);
  (*other)->close();

  c->close();
  server.shutdown();
  dispatch.stop();
  dispatch.join();
}

TEST_CASE("in-process: allowed_connection_types and account limits", "[internal][account-limits]") {
  Options o;
  o.host = "127.0.0.1";
  o.port = kRandomPort;
  REQUIRE(apply_config_text(o, R"(
accounts {
  A {
    users = [
      {user: app, password: p, allowed_connection_types: ["IN_PROCESS"]}
      {user: tcp, password: p, allowed_connection_types: ["STANDARD"]}
    ]
    limits { max_connections: 2, max_subscriptions: 1, max_payload: 10 }
  }
}
)", "inproc-limits.conf"));
  Server server(std::move(o), std::make_shared<Logger>());
  REQUIRE(server.start());
  IoThread dispatch(1000);
  dispatch.start();
  auto as = [&](std::string user) {
    InProcessOptions io;
    io.user = std::move(user);
    std::string pass = "p";
    io.pass = std::move(pass);
    return InProcessConn::connect(server, dispatch, io, nullptr);
  };
  // In-process connections are IN_PROCESS, TCP clients STANDARD.
  auto refused = as("tcp");
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == "Authorization Violation");
  auto first = as("app");
  REQUIRE(first);
  // The account's limits: 1 subscription, 10 bytes of payload.
  CHECK((*first)->subscribe("x", "", [](const InProcessMessage&) {}));
  CHECK((*first)->subscribe("y", "", [](const InProcessMessage&) {}).error() == "maximum subscriptions exceeded");
  CHECK((*first)->publish("x", "", std::string(10, 'a')));
  CHECK((*first)->publish("x", "", std::string(11, 'a')).error() == "Maximum Payload Violation");
  // max_connections counts TCP and in-process clients of the account together.
  RawClient tcp("127.0.0.1", server.client_port());
  REQUIRE(tcp.read_line(3s).rfind("INFO ", 0) == 0);
  tcp.send("CONNECT {\"verbose\":false,\"user\":\"tcp\",\"pass\":\"p\"}\r\nPING\r\n");
  REQUIRE(tcp.read_line(3s) == "PONG\r\n");
  auto third = as("app");
  REQUIRE_FALSE(third);
  CHECK(third.error() == "maximum account active connections exceeded");
  (*first)->close();
  auto again = as("app");
  CHECK(again);
  server.shutdown();
  dispatch.stop();
}

// The internal client (no socket) inside a running server: a TCP client's message reaches an
// internal subscription's handler on the service thread, never inside deliver(); what the
// handler publishes reaches TCP subscribers; a burst of requests is answered in order; an
// unsubscribed handler gets nothing more.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "account.hpp"
#include "internal_client.hpp"
#include "io_thread.hpp"
#include "logger.hpp"
#include "raw_client.hpp"
#include "server.hpp"

using namespace forest::broker;
using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<Server> start_server() {
  Options o;
  o.host = "127.0.0.1";
  o.port = kRandomPort;
  auto log = std::make_shared<Logger>();
  auto server = std::make_unique<Server>(std::move(o), log);
  auto r = server->start();
  REQUIRE(r);
  return server;
}

void handshake(RawClient& c) {
  REQUIRE(c.read_line(3s).rfind("INFO ", 0) == 0);
  c.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
  REQUIRE(c.read_exactly(6, 3s) == "PONG\r\n");
}

}  // namespace

TEST_CASE("an internal subscription answers requests from TCP clients", "[internal]") {
  auto server = start_server();
  auto client = std::make_shared<InternalClient>(*server, server->service_thread(), "test-service");
  std::atomic<bool> on_service_thread{true};
  std::atomic<int> handled{0};
  Account& acc = server->global_account();
  auto sub = client->subscribe(acc, "svc.echo", "", [&](const InternalMessage& m) {
    if (!client->on_own_thread()) on_service_thread = false;
    ++handled;
    client->publish(*m.account, m.reply, "", "re:" + std::string(m.body()));
  });
  REQUIRE(sub);
  CHECK_FALSE(client->subscribe(acc, "bad..subject", "", [](const InternalMessage&) {}));

  RawClient c("127.0.0.1", server->client_port());
  handshake(c);
  std::string burst = "SUB _INBOX.r 1\r\n";
  for (int i = 0; i < 100; ++i) burst += "PUB svc.echo _INBOX.r " + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) + "\r\n";
  // The answers come from the service thread, in order (no PING here: its PONG may come
  // before or between them).
  c.send(burst);
  for (int i = 0; i < 100; ++i) {
    const std::string body = "re:" + std::to_string(i);
    const std::string expected = "MSG _INBOX.r 1 " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
    REQUIRE(c.read_exactly_answering_pings(expected.size(), 5s) == expected);  // in order
  }
  CHECK(handled.load() == 100);
  CHECK(on_service_thread.load());

  client->unsubscribe(acc, sub);
  c.send("PUB svc.echo _INBOX.r 1\r\nx\r\nPING\r\n");
  CHECK(c.read_exactly(6, 3s) == "PONG\r\n");
  std::this_thread::sleep_for(200ms);
  CHECK(handled.load() == 100);  // nothing after the unsubscribe
  c.send("PING\r\n");
  CHECK(c.read_exactly(6, 3s) == "PONG\r\n");  // and no answer arrived in between
  server->shutdown();
  server->wait();
}

TEST_CASE("work run on the service thread publishes in one batch", "[internal]") {
  auto server = start_server();
  auto client = std::make_shared<InternalClient>(*server, server->service_thread(), "test-batch");
  RawClient c("127.0.0.1", server->client_port());
  handshake(c);
  c.send("SUB out 1\r\nPING\r\n");
  REQUIRE(c.read_exactly(6, 3s) == "PONG\r\n");
  std::atomic<bool> done{false};
  client->run([&] {
    for (int i = 0; i < 1000; ++i) client->publish(server->global_account(), "out", "", "m");
    done = true;
  });
  const std::string one = "MSG out 1 1\r\nm\r\n";
  for (int i = 0; i < 1000; ++i) REQUIRE(c.read_exactly_answering_pings(one.size(), 5s) == one);
  CHECK(done.load());
  server->shutdown();
  server->wait();
}

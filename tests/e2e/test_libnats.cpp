// End-to-end with the official C client (libnats). Every scenario runs against forest-server
// and, as the reference, against nats-server 2.9.10: the expectations hold for both.
#include <catch2/catch.hpp>

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <simdjson.h>

#include "http_get.hpp"
#include "server_process.hpp"

using namespace forest::testing;

namespace {

struct NatsLib {
  NatsLib() { nats_Open(-1); }
};
NatsLib nats_lib;

struct Conn {
  natsConnection* nc = nullptr;
  ~Conn() {
    if (nc != nullptr) natsConnection_Destroy(nc);
  }
};

struct Opts {
  natsOptions* o = nullptr;
  Opts() { natsOptions_Create(&o); natsOptions_SetSendAsap(o, true); }
  ~Opts() { natsOptions_Destroy(o); }
};

std::string url(const ServerProcess& s) { return "nats://127.0.0.1:" + std::to_string(s.client_port()); }

natsStatus connect(Conn& c, const ServerProcess& s, natsOptions* extra = nullptr) {
  if (extra != nullptr) {
    natsOptions_SetURL(extra, url(s).c_str());
    return natsConnection_Connect(&c.nc, extra);
  }
  Opts o;
  natsOptions_SetURL(o.o, url(s).c_str());
  return natsConnection_Connect(&c.nc, o.o);
}

std::string msg_data(natsMsg* m) { return std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))); }

int64_t json_int(const std::string& body, const char* field) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return -1;
  int64_t v = -1;
  if (doc[field].get_int64().get(v) != simdjson::SUCCESS) return -1;
  return v;
}

std::string which_server() {
  return GENERATE(from_range(server_kinds()));
}

std::unique_ptr<ServerProcess> start_server(const std::string& which, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::start(which == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(), args);
}

std::string write_temp_config(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("forest-e2e-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("pub/sub in order", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  auto server = start_server(which);
  Conn sub_conn, pub_conn;
  REQUIRE(connect(sub_conn, *server) == NATS_OK);
  REQUIRE(connect(pub_conn, *server) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, sub_conn.nc, "orders.*") == NATS_OK);
  REQUIRE(natsConnection_Flush(sub_conn.nc) == NATS_OK);
  for (int i = 0; i < 500; ++i) {
    REQUIRE(natsConnection_PublishString(pub_conn.nc, ("orders." + std::to_string(i % 7)).c_str(),
                                         std::to_string(i).c_str()) == NATS_OK);
  }
  REQUIRE(natsConnection_Flush(pub_conn.nc) == NATS_OK);
  for (int i = 0; i < 500; ++i) {
    natsMsg* m = nullptr;
    REQUIRE(natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK);
    CHECK(msg_data(m) == std::to_string(i));
    natsMsg_Destroy(m);
  }
  natsMsg* extra = nullptr;
  CHECK(natsSubscription_NextMsg(&extra, sub, 100) == NATS_TIMEOUT);
  natsSubscription_Destroy(sub);
}

TEST_CASE("queue group: each message to exactly one member", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  auto server = start_server(which);
  Conn a, b, pub;
  REQUIRE(connect(a, *server) == NATS_OK);
  REQUIRE(connect(b, *server) == NATS_OK);
  REQUIRE(connect(pub, *server) == NATS_OK);
  natsSubscription *sa = nullptr, *sb = nullptr;
  REQUIRE(natsConnection_QueueSubscribeSync(&sa, a.nc, "work", "workers") == NATS_OK);
  REQUIRE(natsConnection_QueueSubscribeSync(&sb, b.nc, "work", "workers") == NATS_OK);
  REQUIRE(natsConnection_Flush(a.nc) == NATS_OK);
  REQUIRE(natsConnection_Flush(b.nc) == NATS_OK);
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) {
    REQUIRE(natsConnection_PublishString(pub.nc, "work", std::to_string(i).c_str()) == NATS_OK);
  }
  REQUIRE(natsConnection_Flush(pub.nc) == NATS_OK);
  std::set<std::string> seen;
  int got_a = 0, got_b = 0;
  auto drain = [&](natsSubscription* s, int& count) {
    natsMsg* m = nullptr;
    while (natsSubscription_NextMsg(&m, s, 300) == NATS_OK) {
      CHECK(seen.insert(msg_data(m)).second);  // never twice
      ++count;
      natsMsg_Destroy(m);
    }
  };
  drain(sa, got_a);
  drain(sb, got_b);
  CHECK(got_a + got_b == kCount);
  CHECK(got_a > 0);
  CHECK(got_b > 0);
  natsSubscription_Destroy(sa);
  natsSubscription_Destroy(sb);
}

namespace {
void echo_handler(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  const std::string reply = "echo:" + msg_data(msg);
  natsConnection_PublishString(nc, natsMsg_GetReply(msg), reply.c_str());
  natsMsg_Destroy(msg);
}
}  // namespace

TEST_CASE("request/reply and no responders", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  auto server = start_server(which);
  Conn svc, client;
  REQUIRE(connect(svc, *server) == NATS_OK);
  REQUIRE(connect(client, *server) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_Subscribe(&sub, svc.nc, "svc.echo", echo_handler, nullptr) == NATS_OK);
  REQUIRE(natsConnection_Flush(svc.nc) == NATS_OK);
  for (int i = 0; i < 50; ++i) {
    natsMsg* reply = nullptr;
    REQUIRE(natsConnection_RequestString(&reply, client.nc, "svc.echo", std::to_string(i).c_str(), 5000) == NATS_OK);
    CHECK(msg_data(reply) == "echo:" + std::to_string(i));
    natsMsg_Destroy(reply);
  }
  natsMsg* none = nullptr;
  CHECK(natsConnection_RequestString(&none, client.nc, "svc.nobody", "x", 5000) == NATS_NO_RESPONDERS);
  natsSubscription_Destroy(sub);
}

TEST_CASE("headers round-trip", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  auto server = start_server(which);
  Conn c;
  REQUIRE(connect(c, *server) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, c.nc, "h.test") == NATS_OK);
  natsMsg* out = nullptr;
  REQUIRE(natsMsg_Create(&out, "h.test", nullptr, "body", 4) == NATS_OK);
  REQUIRE(natsMsgHeader_Set(out, "X-Forest", "leaf-1") == NATS_OK);
  REQUIRE(natsConnection_PublishMsg(c.nc, out) == NATS_OK);
  natsMsg_Destroy(out);
  natsMsg* in = nullptr;
  REQUIRE(natsSubscription_NextMsg(&in, sub, 5000) == NATS_OK);
  const char* value = nullptr;
  REQUIRE(natsMsgHeader_Get(in, "X-Forest", &value) == NATS_OK);
  CHECK(std::string(value) == "leaf-1");
  CHECK(msg_data(in) == "body");
  natsMsg_Destroy(in);
  natsSubscription_Destroy(sub);
}

TEST_CASE("authorization: user/password, token, users list", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  SECTION("user and password from flags") {
    auto server = start_server(which, {"--user", "alice", "--pass", "s3cret"});
    Opts good;
    natsOptions_SetUserInfo(good.o, "alice", "s3cret");
    Conn ok;
    CHECK(connect(ok, *server, good.o) == NATS_OK);
    Opts bad;
    natsOptions_SetUserInfo(bad.o, "alice", "wrong");
    Conn refused;
    CHECK(connect(refused, *server, bad.o) != NATS_OK);
    Conn anonymous;
    CHECK(connect(anonymous, *server) != NATS_OK);
  }
  SECTION("token from flags") {
    auto server = start_server(which, {"--auth", "t0k3n"});
    Opts good;
    natsOptions_SetToken(good.o, "t0k3n");
    Conn ok;
    CHECK(connect(ok, *server, good.o) == NATS_OK);
    Opts bad;
    natsOptions_SetToken(bad.o, "nope");
    Conn refused;
    CHECK(connect(refused, *server, bad.o) != NATS_OK);
  }
  SECTION("users list from a config file") {
    const std::string conf = write_temp_config(
        which + "-users.conf", "authorization { users = [ {user: a, password: pa}, {user: b, password: pb} ] }\n");
    auto server = start_server(which, {"-c", conf});
    Opts good;
    natsOptions_SetUserInfo(good.o, "b", "pb");
    Conn ok;
    CHECK(connect(ok, *server, good.o) == NATS_OK);
    Opts bad;
    natsOptions_SetUserInfo(bad.o, "a", "pb");
    Conn refused;
    CHECK(connect(refused, *server, bad.o) != NATS_OK);
    std::filesystem::remove(conf);
  }
}

TEST_CASE("auto-unsubscribe", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  auto server = start_server(which);
  Conn c;
  REQUIRE(connect(c, *server) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, c.nc, "limited") == NATS_OK);
  REQUIRE(natsSubscription_AutoUnsubscribe(sub, 3) == NATS_OK);
  REQUIRE(natsConnection_Flush(c.nc) == NATS_OK);
  for (int i = 0; i < 10; ++i) REQUIRE(natsConnection_PublishString(c.nc, "limited", "x") == NATS_OK);
  REQUIRE(natsConnection_Flush(c.nc) == NATS_OK);
  int received = 0;
  natsMsg* m = nullptr;
  while (natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
    ++received;
    natsMsg_Destroy(m);
  }
  CHECK(received == 3);
  natsSubscription_Destroy(sub);
}

namespace {
std::atomic<int> g_reconnects{0};
void on_reconnected(natsConnection*, void*) { g_reconnects.fetch_add(1); }
}  // namespace

TEST_CASE("reconnect after a server restart", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  const int port = free_port();
  const std::string binary = which == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
  auto server = ServerProcess::start(binary, {"-a", "127.0.0.1", "-p", std::to_string(port)});
  g_reconnects.store(0);
  Opts o;
  natsOptions_SetMaxReconnect(o.o, 100);
  natsOptions_SetReconnectWait(o.o, 100);
  natsOptions_SetReconnectedCB(o.o, on_reconnected, nullptr);
  Conn c;
  REQUIRE(connect(c, *server, o.o) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, c.nc, "after.restart") == NATS_OK);
  REQUIRE(natsConnection_Flush(c.nc) == NATS_OK);

  server->stop();
  server = ServerProcess::start(binary, {"-a", "127.0.0.1", "-p", std::to_string(port)});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (g_reconnects.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(g_reconnects.load() >= 1);
  // The client re-sent its subscription: a message published now arrives.
  REQUIRE(natsConnection_Flush(c.nc) == NATS_OK);
  REQUIRE(natsConnection_PublishString(c.nc, "after.restart", "back") == NATS_OK);
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK);
  CHECK(msg_data(m) == "back");
  natsMsg_Destroy(m);
  natsSubscription_Destroy(sub);
}

TEST_CASE("a 1 MiB payload", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  auto server = start_server(which);
  Conn c;
  REQUIRE(connect(c, *server) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, c.nc, "big") == NATS_OK);
  std::string payload(1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7) % 26);
  REQUIRE(natsConnection_Publish(c.nc, "big", payload.data(), static_cast<int>(payload.size())) == NATS_OK);
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 10000) == NATS_OK);
  CHECK(msg_data(m) == payload);
  natsMsg_Destroy(m);
  // One byte more than max_payload is refused by the client itself (it read max_payload from INFO).
  std::string too_big(1024 * 1024 + 1, 'x');
  CHECK(natsConnection_Publish(c.nc, "big", too_big.data(), static_cast<int>(too_big.size())) == NATS_MAX_PAYLOAD);
  natsSubscription_Destroy(sub);
}

TEST_CASE("10,000 subscriptions on one connection", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  auto server = start_server(which, {"-m", "-1"});
  Conn c;
  REQUIRE(connect(c, *server) == NATS_OK);
  constexpr int kSubs = 10000;
  std::vector<natsSubscription*> subs(kSubs, nullptr);
  for (int i = 0; i < kSubs; ++i) {
    REQUIRE(natsConnection_SubscribeSync(&subs[static_cast<std::size_t>(i)], c.nc, ("many." + std::to_string(i)).c_str()) == NATS_OK);
  }
  REQUIRE(natsConnection_Flush(c.nc) == NATS_OK);
  for (int i = 0; i < kSubs; ++i) {
    REQUIRE(natsConnection_PublishString(c.nc, ("many." + std::to_string(i)).c_str(), std::to_string(i).c_str()) == NATS_OK);
  }
  REQUIRE(natsConnection_Flush(c.nc) == NATS_OK);
  int received = 0;
  for (int i = 0; i < kSubs; ++i) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, subs[static_cast<std::size_t>(i)], 5000) == NATS_OK) {
      if (msg_data(m) == std::to_string(i)) ++received;
      natsMsg_Destroy(m);
    }
  }
  CHECK(received == kSubs);
  // The monitor counts them too (nats-server adds its internal system subscriptions).
  const int64_t counted = json_int(http_get(server->http_port(), "/subsz"), "num_subscriptions");
  CHECK(counted >= kSubs);
  if (which == "forest") CHECK(counted == kSubs);
  for (auto* s : subs) natsSubscription_Destroy(s);
}

TEST_CASE("200 concurrent connections", "[e2e]") {
  const std::string which = which_server();
  INFO("server: " << which);
  auto server = start_server(which, {"-m", "-1"});
  constexpr int kConns = 200;
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<natsSubscription*> subs;
  for (int i = 0; i < kConns; ++i) {
    auto c = std::make_unique<Conn>();
    REQUIRE(connect(*c, *server) == NATS_OK);
    natsSubscription* s = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&s, c->nc, ("conn." + std::to_string(i)).c_str()) == NATS_OK);
    REQUIRE(natsConnection_Flush(c->nc) == NATS_OK);
    subs.push_back(s);
    conns.push_back(std::move(c));
  }
  CHECK(json_int(http_get(server->http_port(), "/varz"), "connections") == kConns);
  // Every connection publishes to the next one's subject, all at once.
  std::vector<std::thread> publishers;
  for (int i = 0; i < kConns; ++i) {
    publishers.emplace_back([&, i] {
      natsConnection_PublishString(conns[static_cast<std::size_t>(i)]->nc, ("conn." + std::to_string((i + 1) % kConns)).c_str(),
                                   std::to_string(i).c_str());
      natsConnection_Flush(conns[static_cast<std::size_t>(i)]->nc);
    });
  }
  for (auto& t : publishers) t.join();
  int received = 0;
  for (int i = 0; i < kConns; ++i) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, subs[static_cast<std::size_t>(i)], 5000) == NATS_OK) {
      if (msg_data(m) == std::to_string((i + kConns - 1) % kConns)) ++received;
      natsMsg_Destroy(m);
    }
  }
  CHECK(received == kConns);
  for (auto* s : subs) natsSubscription_Destroy(s);
}

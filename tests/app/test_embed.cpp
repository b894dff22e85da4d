// The embeddable server (forest::Server) and its in-process connection, against libnats
// clients on the same server's TCP port: the in-process client must behave as a TCP client
// does (the same routing, queue groups, request/reply, echo, auto-unsubscribe, limits,
// no-responders, headers) and the server must show and close it as one. In-process, so the
// sanitizer builds run it too.
#include <catch2/catch.hpp>
#include <nats/nats.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <forest/server.hpp>

#include "../jetstream/monitor_http.hpp"
#include "embed_support.hpp"

using namespace std::chrono_literals;
using forest::testing::eventually;
using forest::testing::http;
using forest::testing::scratch_dir;

namespace {

forest::Config local_config() { return forest::testing::quiet_config(); }

// Messages a handler collected, waited for from the test thread.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<forest::Message> msgs;

  void add(const forest::Message& m) {
    std::lock_guard lock(mu);
    msgs.push_back(m);
    cv.notify_all();
  }
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return msgs.size() >= n; });
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return msgs.size();
  }
};

struct NatsClient {
  natsConnection* nc = nullptr;
  explicit NatsClient(const std::string& url) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url.c_str());
    natsOptions_SetAllowReconnect(o, false);
    natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
  }
  ~NatsClient() { natsConnection_Destroy(nc); }
};

}  // namespace

TEST_CASE("embedded server: in-process and TCP clients reach each other, with headers", "[embed]") {
  forest::Server server(local_config());
  REQUIRE(server.start());
  REQUIRE(server.client_port() > 0);
  REQUIRE(server.monitor_port() > 0);
  REQUIRE(server.cluster_port() == -1);
  auto conn = server.connect({.name = "app"});
  REQUIRE(conn);

  NatsClient tcp(server.client_url());
  REQUIRE(tcp.nc != nullptr);
  natsSubscription* tsub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&tsub, tcp.nc, "to.tcp.>") == NATS_OK);
  REQUIRE(natsConnection_Flush(tcp.nc) == NATS_OK);

  Inbox got;
  auto sub = (*conn)->subscribe("to.app.*", [&](const forest::Message& m) { got.add(m); });
  REQUIRE(sub);

  // In-process -> TCP, with headers.
  forest::Message out;
  out.subject = "to.tcp.one";
  out.headers = forest::Headers().add("X-Trace", "abc").block();
  out.data = "payload-1";
  REQUIRE((*conn)->publish(out));
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, tsub, 5000) == NATS_OK);
  CHECK(std::string(natsMsg_GetSubject(m)) == "to.tcp.one");
  CHECK(std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m)) == "payload-1");
  const char* trace = nullptr;
  CHECK(natsMsgHeader_Get(m, "X-Trace", &trace) == NATS_OK);
  CHECK(std::string(trace != nullptr ? trace : "") == "abc");
  natsMsg_Destroy(m);

  // TCP -> in-process, with headers and a reply subject.
  natsMsg* tm = nullptr;
  REQUIRE(natsMsg_Create(&tm, "to.app.two", "reply.here", "payload-2", 9) == NATS_OK);
  REQUIRE(natsMsgHeader_Set(tm, "X-Kind", "test") == NATS_OK);
  REQUIRE(natsConnection_PublishMsg(tcp.nc, tm) == NATS_OK);
  natsMsg_Destroy(tm);
  REQUIRE(natsConnection_Flush(tcp.nc) == NATS_OK);
  REQUIRE(got.wait_for_count(1));
  {
    std::lock_guard lock(got.mu);
    CHECK(got.msgs[0].subject == "to.app.two");
    CHECK(got.msgs[0].reply == "reply.here");
    CHECK(got.msgs[0].data == "payload-2");
    CHECK(got.msgs[0].header("x-kind") == std::optional<std::string>("test"));
  }
  // Invalid subjects are refused, as a TCP client's PUB would be.
  CHECK(!(*conn)->publish("bad.*", "x"));
  CHECK(!(*conn)->publish("", "x"));
  CHECK(!(*conn)->subscribe("bad..subject", [](const forest::Message&) {}));
  natsSubscription_Destroy(tsub);
}

TEST_CASE("embedded server: queue groups span in-process and TCP members, each message once", "[embed]") {
  forest::Server server(local_config());
  REQUIRE(server.start());
  auto a = server.connect({.name = "a"});
  auto b = server.connect({.name = "b"});
  REQUIRE(a);
  REQUIRE(b);
  std::atomic<int> in_a{0}, in_b{0};
  auto sa = (*a)->queue_subscribe("work", "workers", [&](const forest::Message&) { in_a++; });
  auto sb = (*b)->queue_subscribe("work", "workers", [&](const forest::Message&) { in_b++; });
  REQUIRE(sa);
  REQUIRE(sb);
  NatsClient tcp(server.client_url());
  natsSubscription* tq = nullptr;
  REQUIRE(natsConnection_QueueSubscribeSync(&tq, tcp.nc, "work", "workers") == NATS_OK);
  REQUIRE(natsConnection_Flush(tcp.nc) == NATS_OK);

  constexpr int kMsgs = 600;
  for (int i = 0; i < kMsgs; ++i) REQUIRE((*a)->publish("work", std::to_string(i)));
  REQUIRE((*a)->flush());
  REQUIRE((*b)->flush());
  int in_tcp = 0;
  REQUIRE(eventually([&] {
    natsMsg* m = nullptr;
    while (natsSubscription_NextMsg(&m, tq, 10) == NATS_OK) {
      ++in_tcp;
      natsMsg_Destroy(m);
    }
    return in_a + in_b + in_tcp >= kMsgs;
  }));
  std::this_thread::sleep_for(100ms);  // nothing more may arrive
  natsMsg* extra = nullptr;
  while (natsSubscription_NextMsg(&extra, tq, 10) == NATS_OK) {
    ++in_tcp;
    natsMsg_Destroy(extra);
  }
  CHECK(in_a + in_b + in_tcp == kMsgs);
  CHECK(in_a > 0);
  CHECK(in_b > 0);
  CHECK(in_tcp > 0);
  natsSubscription_Destroy(tq);
}

TEST_CASE("embedded server: request/reply both ways, no responders, timeouts, requests from a handler",
          "[embed]") {
  forest::Server server(local_config());
  REQUIRE(server.start());
  auto conn = server.connect({.name = "svc"});
  auto other = server.connect({.name = "caller"});
  REQUIRE(conn);
  REQUIRE(other);
  auto& c = **conn;
  auto responder = c.subscribe("svc.echo", [&](const forest::Message& m) {
    forest::Message reply;
    reply.subject = m.reply;
    reply.data = "echo:" + m.data;
    (void)c.publish(reply);
  });
  REQUIRE(responder);

  // libnats asks the in-process responder.
  NatsClient tcp(server.client_url());
  natsMsg* r = nullptr;
  REQUIRE(natsConnection_RequestString(&r, tcp.nc, "svc.echo", "hi", 5000) == NATS_OK);
  CHECK(std::string(natsMsg_GetData(r), natsMsg_GetDataLength(r)) == "echo:hi");
  natsMsg_Destroy(r);

  // The in-process client asks a libnats responder.
  natsSubscription* tsvc = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&tsvc, tcp.nc, "tcp.svc") == NATS_OK);
  REQUIRE(natsConnection_Flush(tcp.nc) == NATS_OK);
  std::thread answer([&] {
    natsMsg* q = nullptr;
    if (natsSubscription_NextMsg(&q, tsvc, 5000) != NATS_OK) return;
    natsConnection_PublishString(tcp.nc, natsMsg_GetReply(q), "from-tcp");
    natsConnection_Flush(tcp.nc);
    natsMsg_Destroy(q);
  });
  auto got = (*other)->request("tcp.svc", "q", 5s);
  answer.join();
  REQUIRE(got);
  CHECK(got->data == "from-tcp");

  // Nobody listens: 503 at once, not after the timeout.
  const auto t0 = std::chrono::steady_clock::now();
  auto none = (*other)->request("nobody.home", "q", 10s);
  REQUIRE(!none);
  CHECK(none.error().status == 503);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);

  // A listener that never answers: 408 after the timeout.
  auto mute = c.subscribe("mute", [](const forest::Message&) {});
  REQUIRE(mute);
  auto silent = (*other)->request("mute", "q", 200ms);
  REQUIRE(!silent);
  CHECK(silent.error().status == 408);

  // A handler may make a request (its reply does not need the dispatch thread it blocks).
  Inbox chained;
  auto chain = (*other)->subscribe("chain", [&](const forest::Message&) {
    auto inner = (*other)->request("svc.echo", "inner", 5s);
    forest::Message m;
    m.data = inner ? inner->data : "failed: " + inner.error().text;
    chained.add(m);
  });
  REQUIRE(chain);
  REQUIRE(c.publish("chain", "go"));
  REQUIRE(chained.wait_for_count(1));
  std::lock_guard lock(chained.mu);
  CHECK(chained.msgs[0].data == "echo:inner");
  natsSubscription_Destroy(tsvc);
}

TEST_CASE("embedded server: echo off, auto-unsubscribe, unsubscribe", "[embed]") {
  forest::Server server(local_config());
  REQUIRE(server.start());
  auto quiet = server.connect({.name = "quiet", .echo = false});
  auto loud = server.connect({.name = "loud"});
  REQUIRE(quiet);
  REQUIRE(loud);
  Inbox at_quiet, at_loud;
  auto sq = (*quiet)->subscribe("echo.test", [&](const forest::Message& m) { at_quiet.add(m); });
  auto sl = (*loud)->subscribe("echo.test", [&](const forest::Message& m) { at_loud.add(m); });
  REQUIRE(sq);
  REQUIRE(sl);
  REQUIRE((*quiet)->publish("echo.test", "from-quiet"));
  REQUIRE((*loud)->publish("echo.test", "from-loud"));
  REQUIRE(at_loud.wait_for_count(2));
  REQUIRE(at_quiet.wait_for_count(1));
  REQUIRE((*quiet)->flush());
  CHECK(at_quiet.size() == 1);  // not its own
  {
    std::lock_guard lock(at_quiet.mu);
    CHECK(at_quiet.msgs[0].data == "from-loud");
  }

  Inbox limited;
  auto sub = (*loud)->subscribe("limited", [&](const forest::Message& m) { limited.add(m); });
  REQUIRE(sub);
  REQUIRE(sub->auto_unsubscribe(3));
  for (int i = 0; i < 10; ++i) REQUIRE((*quiet)->publish("limited", std::to_string(i)));
  REQUIRE(limited.wait_for_count(3));
  REQUIRE((*loud)->flush());
  std::this_thread::sleep_for(50ms);
  CHECK(limited.size() == 3);
  // The subscription is gone from the server: a request now finds no responder.
  auto r = (*quiet)->request("limited", "q", 2s);
  REQUIRE(!r);
  CHECK(r.error().status == 503);

  REQUIRE(sl->unsubscribe());
  REQUIRE((*quiet)->publish("echo.test", "after"));
  REQUIRE((*loud)->flush());
  CHECK(at_loud.size() == 2);
}

TEST_CASE("embedded server: limits from the config file apply to in-process clients", "[embed]") {
  const auto dir = scratch_dir("limits");
  std::filesystem::create_directories(dir);
  const auto conf = dir / "limits.conf";
  std::ofstream(conf) << "max_subscriptions: 2\nmax_payload: 64\nmax_connections: 2\n";
  forest::Config config = local_config();
  config.config_file = conf.string();
  forest::Server server(config);
  REQUIRE(server.start());
  auto conn = server.connect({.name = "limited"});
  REQUIRE(conn);
  auto s1 = (*conn)->subscribe("a", [](const forest::Message&) {});
  auto s2 = (*conn)->subscribe("b", [](const forest::Message&) {});
  auto s3 = (*conn)->subscribe("c", [](const forest::Message&) {});
  CHECK(s1);
  CHECK(s2);
  REQUIRE(!s3);
  CHECK(s3.error().text == "maximum subscriptions exceeded");
  CHECK((*conn)->publish("a", std::string(64, 'x')));
  auto big = (*conn)->publish("a", std::string(65, 'x'));
  REQUIRE(!big);
  CHECK(big.error().text == "Maximum Payload Violation");
  auto second = server.connect({.name = "second"});
  REQUIRE(second);
  auto third = server.connect({.name = "third"});
  REQUIRE(!third);
  CHECK(third.error().text == "maximum connections exceeded");
  server.shutdown();
  std::filesystem::remove_all(dir);
}

TEST_CASE("embedded server: authorization applies to in-process clients", "[embed]") {
  const auto dir = scratch_dir("auth");
  std::filesystem::create_directories(dir);
  const auto conf = dir / "auth.conf";
  std::ofstream(conf) << "authorization { user: app, password: s3cret }\n";
  forest::Config config = local_config();
  config.config_file = conf.string();
  forest::Server server(config);
  REQUIRE(server.start());
  auto anonymous = server.connect({.name = "anon"});
  REQUIRE(!anonymous);
  CHECK(anonymous.error().text == "Authorization Violation");
  auto wrong = server.connect({.name = "wrong", .user = "app", .pass = "nope"});
  CHECK(!wrong);
  auto right = server.connect({.name = "right", .user = "app", .pass = "s3cret"});
  REQUIRE(right);
  const auto connz = http(server.monitor_port(), "/connz?auth=true");
  CHECK(connz.body.find("\"authorized_user\":\"app\"") != std::string::npos);
  server.shutdown();
  std::filesystem::remove_all(dir);
}

TEST_CASE("embedded server: /connz and /varz show in-process clients; shutdown closes them", "[embed]") {
  forest::Server server(local_config());
  REQUIRE(server.start());
  std::mutex mu;
  std::vector<forest::ConnectionEvent> events;
  auto conn = server.connect({.name = "monitored-app", .on_event = [&](forest::ConnectionEvent e, std::string_view) {
                                std::lock_guard lock(mu);
                                events.push_back(e);
                              }});
  REQUIRE(conn);
  auto sub = (*conn)->subscribe("seen.>", [](const forest::Message&) {});
  REQUIRE(sub);
  REQUIRE((*conn)->publish("seen.one", "x"));

  const auto connz = http(server.monitor_port(), "/connz?subs=1");
  REQUIRE(connz.status == 200);
  INFO(connz.body);
  CHECK(connz.body.find("\"name\":\"monitored-app\"") != std::string::npos);
  CHECK(connz.body.find("\"ip\":\"pipe\"") != std::string::npos);
  CHECK(connz.body.find("\"cid\":" + std::to_string((*conn)->client_id())) != std::string::npos);
  CHECK(connz.body.find("seen.\\u003e") != std::string::npos);
  const auto varz = http(server.monitor_port(), "/varz");
  INFO(varz.body);
  CHECK(varz.body.find("\"connections\":1,") != std::string::npos);
  CHECK(varz.body.find("\"in_msgs\":1,") != std::string::npos);

  server.shutdown();
  CHECK((*conn)->closed());
  CHECK(!(*conn)->publish("seen.two", "x"));
  CHECK(eventually([&] {
    std::lock_guard lock(mu);
    return std::find(events.begin(), events.end(), forest::ConnectionEvent::closed) != events.end();
  }));
}

TEST_CASE("embedded server: lame duck closes TCP clients before in-process ones", "[embed]") {
  // Lame duck over 3 s for two clients (the Config's duration skips a config file's 30 s
  // minimum): the TCP client goes right after the grace period, the app's connection half-way.
  forest::Config config = local_config();
  config.lame_duck_duration = 3s;
  config.lame_duck_grace_period = 100ms;
  forest::Server server(config);
  auto started = server.start();
  INFO((started ? std::string() : started.error().text));
  REQUIRE(started);
  std::mutex mu;
  std::vector<forest::ConnectionEvent> events;
  auto conn = server.connect({.name = "app", .on_event = [&](forest::ConnectionEvent e, std::string_view) {
                                std::lock_guard lock(mu);
                                events.push_back(e);
                              }});
  REQUIRE(conn);
  NatsClient tcp(server.client_url());
  REQUIRE(tcp.nc != nullptr);
  server.enter_lame_duck_mode();
  REQUIRE(eventually([&] { return natsConnection_IsClosed(tcp.nc) != 0; }, 10s));
  CHECK(!(*conn)->closed());  // the app's own connection is still there
  CHECK((*conn)->publish("still.working", "x"));
  REQUIRE(eventually([&] { return (*conn)->closed(); }, 40s));
  server.wait();
  std::lock_guard lock(mu);
  REQUIRE(!events.empty());
  CHECK(events.front() == forest::ConnectionEvent::lame_duck);
}

TEST_CASE("embedded server: a config file's lame-duck duration under 30 s is refused", "[embed]") {
  const auto dir = scratch_dir("ldm-conf");
  std::filesystem::create_directories(dir);
  const auto conf = dir / "ldm.conf";
  std::ofstream(conf) << "lame_duck_duration: \"3s\"\n";
  forest::Config config = local_config();
  config.config_file = conf.string();
  forest::Server server(config);
  auto started = server.start();
  REQUIRE(!started);
  CHECK(started.error().text.find("lame_duck_duration") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("embedded server: JetStream answers once start() returned; disabled ports stay closed", "[embed]") {
  const auto dir = scratch_dir("js");
  forest::Config config = local_config();
  config.data_dir = (dir / "jetstream").string();  // does not exist yet
  config.client_port = -1;
  config.monitor_port = -1;
  forest::Server server(config);
  REQUIRE(server.start());
  CHECK(server.client_port() == -1);
  CHECK(server.monitor_port() == -1);
  CHECK(server.client_url().empty());
  auto conn = server.connect({.name = "js"});
  REQUIRE(conn);
  auto info = (*conn)->request("$JS.API.INFO", "", 5s);
  REQUIRE(info);
  CHECK(info->data.find("\"type\":\"io.nats.jetstream.api.v1.account_info_response\"") != std::string::npos);
  auto created = (*conn)->request(
      "$JS.API.STREAM.CREATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"storage":"file"})", 5s);
  REQUIRE(created);
  CHECK(created->data.find("\"error\"") == std::string::npos);
  auto ack = (*conn)->request("orders.new", "{}", 5s);
  REQUIRE(ack);
  CHECK(ack->data == R"({"stream":"ORDERS", "seq":1})");  // nats-server's spacing
  server.shutdown();
  CHECK(std::filesystem::exists(dir / "jetstream"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("embedded server: a bad configuration is a clear start() error", "[embed]") {
  forest::Config config = local_config();
  config.config_file = "/nonexistent/forest.conf";
  forest::Server missing(config);
  auto r = missing.start();
  REQUIRE(!r);
  CHECK(r.error().text.find("/nonexistent/forest.conf") != std::string::npos);
  CHECK(!missing.running());
  CHECK(!missing.connect());

  forest::Config peers = local_config();
  peers.peers = {"nats-route://127.0.0.1:1"};
  forest::Server no_cluster_port(peers);
  auto p = no_cluster_port.start();
  REQUIRE(!p);
  CHECK(p.error().text.find("cluster port") != std::string::npos);
}

TEST_CASE("embedded server: a connection destroyed from its own handler; wait() while another thread shuts down",
          "[embed]") {
  forest::Server server(local_config());
  REQUIRE(server.start());
  auto conn = server.connect({.name = "self-destructing"});
  REQUIRE(conn);
  std::unique_ptr<forest::Connection> owned = std::move(*conn);
  std::promise<void> destroyed;
  auto sub = owned->subscribe("bye", [&](const forest::Message&) {
    owned.reset();  // from its own dispatch thread
    destroyed.set_value();
  });
  REQUIRE(sub);
  sub->release();  // the subscription dies with the connection
  auto other = server.connect({.name = "other"});
  REQUIRE(other);
  REQUIRE((*other)->publish("bye", "x"));
  REQUIRE(destroyed.get_future().wait_for(5s) == std::future_status::ready);
  CHECK(owned == nullptr);

  std::thread waiter([&] { server.wait(); });
  std::this_thread::sleep_for(20ms);
  server.shutdown();
  waiter.join();
  CHECK(!server.running());
  CHECK((*other)->closed());
}

TEST_CASE("embedded server: auto-unsubscribe stops at the maximum also for messages already queued", "[embed]") {
  forest::Server server(local_config());
  REQUIRE(server.start());
  auto conn = server.connect({.name = "slow"});
  auto pub = server.connect({.name = "pub"});
  REQUIRE(conn);
  REQUIRE(pub);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> handled{0};
  auto sub = (*conn)->subscribe("queued", [&](const forest::Message&) {
    if (handled++ == 0) released.wait();  // the rest queue up meanwhile
  });
  REQUIRE(sub);
  for (int i = 0; i < 10; ++i) REQUIRE((*pub)->publish("queued", std::to_string(i)));
  REQUIRE(eventually([&] { return handled == 1; }));
  REQUIRE(sub->auto_unsubscribe(3));
  release.set_value();
  REQUIRE((*conn)->flush());
  CHECK(handled == 3);
}

TEST_CASE("embedded server: a handler's request reaches a TCP responder before the handler returns", "[embed]") {
  forest::Server server(local_config());
  REQUIRE(server.start());
  auto conn = server.connect({.name = "asker"});
  REQUIRE(conn);
  NatsClient tcp(server.client_url());
  natsSubscription* svc = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&svc, tcp.nc, "tcp.answer") == NATS_OK);
  REQUIRE(natsConnection_Flush(tcp.nc) == NATS_OK);
  std::atomic<bool> stop{false};
  std::thread responder([&] {
    while (!stop) {
      natsMsg* q = nullptr;
      if (natsSubscription_NextMsg(&q, svc, 100) != NATS_OK) continue;
      natsConnection_PublishString(tcp.nc, natsMsg_GetReply(q), "answered");
      natsConnection_Flush(tcp.nc);
      natsMsg_Destroy(q);
    }
  });
  std::promise<std::string> got;
  auto sub = (*conn)->subscribe("ask", [&](const forest::Message&) {
    auto r = (*conn)->request("tcp.answer", "q", 5s);
    got.set_value(r ? r->data : "error: " + r.error().text);
  });
  REQUIRE(sub);
  REQUIRE((*conn)->publish("ask", "go"));
  auto answer = got.get_future();
  REQUIRE(answer.wait_for(10s) == std::future_status::ready);
  CHECK(answer.get() == "answered");
  stop = true;
  responder.join();
  natsSubscription_Destroy(svc);
}

// Routing decisions with routes in the picture (one copy per route, queue names, one hop,
// weighted queue picks), interest counting (RS+/RS- only when counts cross zero or a queue's
// weight changes), route URLs and the route handshake JSON.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "account.hpp"
#include "match_cache.hpp"
#include "publish.hpp"
#include "route_info.hpp"
#include "route_url.hpp"

using namespace forest::broker;

namespace {

// A local receiver: counts what it takes.
class LocalSink : public MessageSink {
 public:
  bool deliver(Subscription&, const Delivery&) override {
    ++taken;
    return true;
  }
  int taken = 0;
};

// A route: records each copy and the queue names it came with.
class RouteSink : public MessageSink {
 public:
  bool deliver(Subscription&, const Delivery& msg) override { return deliver_routed(msg, {}); }
  bool deliver_routed(const Delivery&, std::span<const std::string_view> queues) override {
    copies.emplace_back(queues.begin(), queues.end());
    return true;
  }
  std::vector<std::vector<std::string>> copies;
};

SubPtr sub(const std::shared_ptr<MessageSink>& sink, const std::string& subject, const std::string& queue = "",
           SubOrigin origin = SubOrigin::local, int32_t weight = 1) {
  auto s = std::make_shared<Subscription>();
  s->sink = sink;
  s->subject = subject;
  s->queue = queue;
  s->origin = origin;
  s->queue_weight = weight;
  return s;
}

Delivery message(std::string_view subject, MessageOrigin origin = MessageOrigin::local) {
  return Delivery{subject, "", -1, "hi", "$G", origin, {}};
}

class RecordingListener : public InterestListener {
 public:
  void interest_changed(const Account&, std::span<const InterestChange> changes) override {
    for (const auto& c : changes) log.push_back(c.subject + (c.queue.empty() ? "" : " " + c.queue) + "=" + std::to_string(c.weight));
  }
  std::vector<std::string> log;
};

}  // namespace

TEST_CASE("a route gets one copy however many of its subscriptions match", "[routing]") {
  Sublist sl;
  MatchCache cache(sl);
  auto local = std::make_shared<LocalSink>();
  auto route = std::make_shared<RouteSink>();
  REQUIRE(sl.insert(sub(local, "orders.new")));
  REQUIRE(sl.insert(sub(route, "orders.*", "", SubOrigin::route)));
  REQUIRE(sl.insert(sub(route, "orders.>", "", SubOrigin::route)));
  REQUIRE(sl.insert(sub(route, "orders.new", "", SubOrigin::route)));
  CHECK(route_message(cache, message("orders.new"), nullptr));
  CHECK(local->taken == 1);
  REQUIRE(route->copies.size() == 1);
  CHECK(route->copies[0].empty());
}

TEST_CASE("a message from a route never goes to another route", "[routing]") {
  Sublist sl;
  MatchCache cache(sl);
  auto local = std::make_shared<LocalSink>();
  auto other_route = std::make_shared<RouteSink>();
  REQUIRE(sl.insert(sub(local, "a")));
  REQUIRE(sl.insert(sub(other_route, "a", "", SubOrigin::route)));
  REQUIRE(sl.insert(sub(other_route, "a", "q", SubOrigin::route, 5)));
  const std::vector<std::string_view> queues = {"q"};
  CHECK(route_message(cache, message("a", MessageOrigin::route), nullptr, queues));
  CHECK(local->taken == 1);
  CHECK(other_route->copies.empty());
}

TEST_CASE("a routed message serves only the queue groups it names, with local members", "[routing]") {
  Sublist sl;
  MatchCache cache(sl);
  auto q1 = std::make_shared<LocalSink>();
  auto q2 = std::make_shared<LocalSink>();
  REQUIRE(sl.insert(sub(q1, "jobs", "workers")));
  REQUIRE(sl.insert(sub(q2, "jobs", "auditors")));
  const std::vector<std::string_view> named = {"workers"};
  CHECK(route_message(cache, message("jobs", MessageOrigin::route), nullptr, named));
  CHECK(q1->taken == 1);
  CHECK(q2->taken == 0);
  // Without a queue list, queue groups are not served at all (the sender picked none here).
  CHECK_FALSE(route_message(cache, message("jobs", MessageOrigin::route), nullptr, {}));
  CHECK(q1->taken == 1);
}

TEST_CASE("queue members across the cluster are picked by weight, the route told which group", "[routing]") {
  Sublist sl;
  MatchCache cache(sl);
  auto local = std::make_shared<LocalSink>();
  auto route = std::make_shared<RouteSink>();
  REQUIRE(sl.insert(sub(local, "work", "g")));
  // The other server has 3 members of g: three quarters of the messages should go there.
  REQUIRE(sl.insert(sub(route, "work", "g", SubOrigin::route, 3)));
  constexpr int kMessages = 8000;
  for (int i = 0; i < kMessages; ++i) CHECK(route_message(cache, message("work"), nullptr));
  const int remote = static_cast<int>(route->copies.size());
  CHECK(local->taken + remote == kMessages);  // each message exactly once
  CHECK(remote > kMessages * 65 / 100);
  CHECK(remote < kMessages * 85 / 100);
  for (const auto& c : route->copies) CHECK(c == std::vector<std::string>{"g"});
}

TEST_CASE("plain interest and a queue pick on the same route make one copy", "[routing]") {
  Sublist sl;
  MatchCache cache(sl);
  auto route = std::make_shared<RouteSink>();
  REQUIRE(sl.insert(sub(route, "x", "", SubOrigin::route)));
  REQUIRE(sl.insert(sub(route, "x", "g1", SubOrigin::route, 1)));
  REQUIRE(sl.insert(sub(route, "x", "g2", SubOrigin::route, 1)));
  CHECK(route_message(cache, message("x"), nullptr));
  REQUIRE(route->copies.size() == 1);
  CHECK(std::set<std::string>(route->copies[0].begin(), route->copies[0].end()) == std::set<std::string>{"g1", "g2"});
}

TEST_CASE("a weight change reaches the caches", "[routing]") {
  Sublist sl;
  MatchCache cache(sl);
  auto local = std::make_shared<LocalSink>();
  auto route = std::make_shared<RouteSink>();
  REQUIRE(sl.insert(sub(local, "w", "g")));
  auto remote = sub(route, "w", "g", SubOrigin::route, 1);
  REQUIRE(sl.insert(remote));
  CHECK(cache.lookup("w")->queues.at(0).weight_ends.back() == 2);
  sl.update_weight(remote, 9);
  CHECK(cache.lookup("w")->queues.at(0).weight_ends.back() == 10);
}

TEST_CASE("interest is announced when counts cross zero and when queue weights change", "[routing][interest]") {
  Account acc("$G", 0);
  RecordingListener listener;
  acc.set_interest_listener(&listener);
  auto sink = std::make_shared<LocalSink>();
  auto a1 = sub(sink, "foo");
  auto a2 = sub(sink, "foo");
  REQUIRE(acc.subscribe(a1));
  REQUIRE(acc.subscribe(a2));
  auto q1 = sub(sink, "bar", "g");
  auto q2 = sub(sink, "bar", "g");
  REQUIRE(acc.subscribe(q1));
  REQUIRE(acc.subscribe(q2));
  acc.unsubscribe(a1);
  acc.unsubscribe(a2);
  CHECK(listener.log == std::vector<std::string>{"foo=1", "bar g=1", "bar g=2", "foo=0"});
  // A closing connection: one change per key with its final state.
  listener.log.clear();
  std::vector<SubPtr> batch = {q1, q2, sub(sink, "never")};  // one was never subscribed
  acc.unsubscribe_batch(batch);
  CHECK(listener.log == std::vector<std::string>{"bar g=0"});
  CHECK(acc.interest_entries() == 0);
  // Remote interest is never announced again.
  REQUIRE(acc.add_remote(sub(sink, "far", "", SubOrigin::route)));
  CHECK(listener.log.size() == 1);
}

TEST_CASE("the interest a new route is sent", "[routing][interest]") {
  Account acc("A", 1);
  auto sink = std::make_shared<LocalSink>();
  REQUIRE(acc.subscribe(sub(sink, "p.>")));
  REQUIRE(acc.subscribe(sub(sink, "p.>")));
  REQUIRE(acc.subscribe(sub(sink, "q", "g")));
  REQUIRE(acc.subscribe(sub(sink, "q", "g")));
  REQUIRE(acc.subscribe(sub(sink, "q", "g")));
  std::map<std::string, int32_t> seen;
  acc.for_each_interest([&](std::string_view subject, std::string_view queue, int32_t weight) {
    seen[std::string(subject) + "|" + std::string(queue)] = weight;
  });
  CHECK(seen == std::map<std::string, int32_t>{{"p.>|", 1}, {"q|g", 3}});
}

TEST_CASE("route URLs", "[routing][url]") {
  auto a = parse_route_url("nats://u%40x:p%3Aw@[2a01:4f8::1]:7222");
  REQUIRE(a);
  CHECK(a->host == "2a01:4f8::1");
  CHECK(a->port == 7222);
  CHECK(a->user == "u@x");
  CHECK(a->pass == "p:w");
  CHECK(a->host_port() == "[2a01:4f8::1]:7222");
  CHECK(a->redacted() == "nats://[2a01:4f8::1]:7222");
  auto b = parse_route_url("nats-route://10.0.0.1:6222/");
  REQUIRE(b);
  CHECK(b->host == "10.0.0.1");
  CHECK(b->port == 6222);
  auto c = parse_route_url("host-only");
  REQUIRE(c);
  CHECK(c->port == 6222);
  CHECK(parse_route_url("HOST-ONLY:6222")->same_endpoint(*c));
  CHECK_FALSE(parse_route_url("nats://2a01:4f8::1:6222"));  // IPv6 needs brackets
  CHECK_FALSE(parse_route_url("nats://[::1"));
  CHECK_FALSE(parse_route_url("nats://h:0"));
  CHECK_FALSE(parse_route_url("nats://h:70000"));
  CHECK_FALSE(parse_route_url("nats://:6222"));
  CHECK_FALSE(parse_route_url("http://h:6222"));
  CHECK(join_host_port("::1", 4222) == "[::1]:4222");
}

TEST_CASE("route INFO and CONNECT round-trip with nats-server's field names", "[routing][handshake]") {
  RouteInfo info;
  info.id = "NID";
  info.name = "n1";
  info.version = "2.9.10";
  info.go = "forest-server 0.1.0";
  info.host = "0.0.0.0";
  info.port = 6222;
  info.cluster = "forest-123";
  info.headers = true;
  info.proto = 2;
  info.max_payload = 1048576;
  info.lnoc = true;
  info.forest = true;
  info.connect_urls = {"10.0.0.1:4222", "[2a01::1]:4222"};
  const std::string json = route_info_json(info);
  CHECK(json.find("\"server_id\":\"NID\"") != std::string::npos);
  CHECK(json.find("\"connect_urls\":[\"10.0.0.1:4222\",\"[2a01::1]:4222\"]") != std::string::npos);
  CHECK(json.find("\"jetstream\"") == std::string::npos);  // omitted when false, as omitempty does
  auto back = parse_route_info(json);
  REQUIRE(back);
  CHECK(back->id == "NID");
  CHECK(back->cluster == "forest-123");
  CHECK(back->connect_urls == info.connect_urls);
  CHECK(back->forest);
  // What nats-server 2.9.10 sends (shape taken from its route INFO), unknown keys ignored.
  auto theirs = parse_route_info(
      R"({"server_id":"NDX","server_name":"NDX","version":"2.9.10","proto":1,"git_commit":"","go":"go1.19.8",)"
      R"("host":"127.0.0.1","port":41437,"headers":true,"max_payload":1048576,"ip":"nats-route://127.0.0.1:41437/",)"
      R"("cluster":"c","connect_urls":["127.0.0.1:4222"],"lnoc":true,"nonce":"abc","jetstream":true})");
  REQUIRE(theirs);
  CHECK(theirs->ip == "nats-route://127.0.0.1:41437/");
  CHECK(theirs->jetstream);
  CHECK_FALSE(theirs->forest);
  CHECK_FALSE(parse_route_info("[1,2]"));
  CHECK_FALSE(parse_route_info(R"({"port":"x"})"));

  RouteConnect c;
  c.user = "ruser";
  c.pass = "rpass";
  c.name = "NID";
  c.cluster = "forest-123";
  c.headers = true;
  c.lnoc = true;
  auto cb = parse_route_connect(route_connect_json(c));
  REQUIRE(cb);
  CHECK(cb->user == "ruser");
  CHECK(cb->name == "NID");
  CHECK(cb->lang.empty());
  auto client = parse_route_connect(R"({"verbose":false,"lang":"go","version":"1.20"})");
  REQUIRE(client);
  CHECK(client->lang == "go");
}

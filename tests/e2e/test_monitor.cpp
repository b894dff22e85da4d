// Monitoring under hostile or odd input: unknown paths, extreme offset/limit, a large subject
// index, oversized and unfinished requests, more sessions than the cap. Where nats-server
// 2.9.10 behaves the same way, the same check runs against it.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http_get.hpp"
#include "raw_client.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

// Mirrors Monitor's limits (broker/monitor.hpp); the tests check behaviour at and past them.
constexpr int kMaxSessions = 256;
constexpr auto kReadDeadline = 5s;

std::unique_ptr<ServerProcess> start(const std::string& which) {
  const std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1", "-m", "-1"};
  return ServerProcess::start(which == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(), args);
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  simdjson::dom::element e;
  INFO("body: " << json.substr(0, 500));
  REQUIRE(p.parse(json).get(e) == simdjson::SUCCESS);
  return e;
}

std::set<std::string> object_keys(simdjson::dom::element e) {
  std::set<std::string> keys;
  simdjson::dom::object obj;
  if (e.get(obj) == simdjson::SUCCESS) {
    for (auto field : obj) keys.insert(std::string(field.key));
  }
  return keys;
}

std::size_t array_size(simdjson::dom::element e, const char* key) {
  simdjson::dom::array a;
  return e[key].get(a) == simdjson::SUCCESS ? a.size() : 0;
}

// Like http_get, with room for a large listing under the sanitizers.
std::string http_get_large(int port, const std::string& path) {
  RawClient http("127.0.0.1", port);
  if (!http.connected()) return "";
  http.send("GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string response = http.read_until_closed(60s);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

struct HttpResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// One keep-alive HTTP/1.1 connection, for answers with a Content-Length (small ones: both
// servers send larger bodies chunked, which http_get avoids by asking in HTTP/1.0).
class HttpConn {
 public:
  explicit HttpConn(int port) : c_("127.0.0.1", port) {}
  HttpResponse request(const std::string& method, const std::string& target) {
    c_.send(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    return read_response(method == "HEAD");
  }
  HttpResponse read_response(bool head_only) {
    HttpResponse r;
    for (;;) {
      const std::string line = c_.read_line(5s);
      if (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0 || line == "\r\n") break;
      r.head += line;
    }
    if (r.head.rfind("HTTP/1.", 0) == 0 && r.head.size() > 12) r.status = std::stoi(r.head.substr(9, 3));
    const auto cl = r.head.find("Content-Length: ");
    if (!head_only && cl != std::string::npos) {
      r.body = c_.read_exactly(std::stoul(r.head.substr(cl + 16)), 5s);
    }
    return r;
  }
  RawClient& raw() { return c_; }

 private:
  RawClient c_;
};

// A raw client that has read its INFO and sent CONNECT.
std::unique_ptr<RawClient> connect_raw(int port) {
  auto c = std::make_unique<RawClient>("127.0.0.1", port);
  REQUIRE(c->read_line(5s).rfind("INFO ", 0) == 0);
  c->send("CONNECT {\"verbose\":false}\r\n");
  return c;
}

void ping_pong(RawClient& c) {
  c.send("PING\r\n");
  REQUIRE(c.read_exactly_answering_pings(6, 60s) == "PONG\r\n");
}

}  // namespace

TEST_CASE("unknown monitoring paths are not counted in /varz", "[monitor]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  simdjson::dom::parser p1, p2;
  http_get(server->http_port(), "/subscriptionsz");  // counted as /subsz by both
  const std::string before_body = http_get(server->http_port(), "/varz");
  const auto before = object_keys(parse(p1, before_body)["http_req_stats"]);
  CHECK(before == std::set<std::string>{"/subsz", "/varz"});

  HttpConn http(server->http_port());
  for (int i = 0; i < 1000; ++i) {
    const HttpResponse r = http.request("GET", "/unknown-" + std::to_string(i));
    REQUIRE(r.status == 404);
    REQUIRE(r.body == "404 page not found\n");
  }
  const std::string after_body = http_get(server->http_port(), "/varz");
  CHECK(object_keys(parse(p2, after_body)["http_req_stats"]) == before);
  // Counters and times may gain a few digits; 1000 kept paths would add over 16 KB.
  CHECK(after_body.size() < before_body.size() + 100);
}

TEST_CASE("/connz and /subsz clamp offset and limit", "[monitor]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  const int port = server->http_port();
  auto a = connect_raw(server->client_port()), b = connect_raw(server->client_port());
  a->send("SUB x.a 1\r\nSUB x.b 2\r\n");
  b->send("SUB y.a 1\r\nSUB y.b q 2\r\n");
  ping_pong(*a);
  ping_pong(*b);

  SECTION("offset=1&limit=2147483647: no overflow, the rest of the list") {
    simdjson::dom::parser p1, p2;
    auto c = parse(p1, http_get(port, "/connz?offset=1&limit=2147483647"));
    CHECK(int64_t(c["offset"]) == 1);
    CHECK(int64_t(c["limit"]) == 2147483647);
    CHECK(int64_t(c["total"]) == 2);
    CHECK(int64_t(c["num_connections"]) == 1);
    CHECK(array_size(c, "connections") == 1);
    auto s = parse(p2, http_get(port, "/subsz?subs=1&offset=1&limit=2147483647"));
    CHECK(int64_t(s["offset"]) == 1);
    CHECK(int64_t(s["limit"]) == 2147483647);
    const int64_t num = int64_t(s["num_subscriptions"]);
    CHECK(num >= 4);  // nats-server adds its internal subscriptions
    CHECK(static_cast<int64_t>(array_size(s, "subscriptions_list")) == num - 1);
    CHECK(int64_t(s["total"]) == num - 1);  // nats-server's "total": entries on this page
  }
  SECTION("offset past the end: an empty page, valid JSON") {
    simdjson::dom::parser p1, p2;
    auto c = parse(p1, http_get(port, "/connz?offset=5"));
    CHECK(int64_t(c["offset"]) == 5);
    CHECK(int64_t(c["total"]) == 2);
    CHECK(int64_t(c["num_connections"]) == 0);
    simdjson::dom::array conns;
    CHECK(c["connections"].get(conns) == simdjson::SUCCESS);
    CHECK(conns.size() == 0);
    // An empty /subsz page is the index statistics alone (nats-server's shape).
    const auto keys = object_keys(parse(p2, http_get(port, "/subsz?subs=1&offset=100000")));
    CHECK(keys.contains("num_subscriptions"));
    CHECK_FALSE(keys.contains("subscriptions_list"));
    CHECK_FALSE(keys.contains("total"));
  }
  SECTION("limit=0 or negative means the default; a negative offset means 0") {
    for (const char* q : {"/connz?limit=0", "/connz?limit=-1&offset=-4"}) {
      INFO(q);
      simdjson::dom::parser p;
      auto c = parse(p, http_get(port, q));
      CHECK(int64_t(c["limit"]) == 1024);
      CHECK(int64_t(c["offset"]) == 0);
      CHECK(array_size(c, "connections") == 2);
    }
  }
  SECTION("a number that does not parse is a 400") {
    HttpConn http(port);
    CHECK(http.request("GET", "/connz?limit=abc").status == 400);
    CHECK(http.request("GET", "/subsz?offset=1x").status == 400);
    CHECK(http.request("GET", "/connz?offset=99999999999999999999").status == 400);
  }
  if (which == "forest") {
    SECTION("the largest offset and limit answer an empty page (nats-server drops the connection)") {
      const std::string max = "9223372036854775807";
      simdjson::dom::parser p1, p2;
      auto c = parse(p1, http_get(port, "/connz?offset=" + max + "&limit=" + max));
      CHECK(array_size(c, "connections") == 0);
      CHECK(int64_t(c["total"]) == 2);
      auto s = parse(p2, http_get(port, "/subsz?subs=1&offset=" + max + "&limit=" + max));
      CHECK(array_size(s, "subscriptions_list") == 0);
      CHECK(int64_t(s["num_subscriptions"]) == 4);
      CHECK(http_get(port, "/healthz") == "{\"status\":\"ok\"}");
    }
  }
}

TEST_CASE("/subsz pages 100,000 subscriptions while clients keep connecting", "[monitor]") {
  constexpr int kSubs = 100000;
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  const int port = server->http_port();
  auto sub = connect_raw(server->client_port());
  std::string subs;
  subs.reserve(kSubs * 24);
  for (int i = 0; i < kSubs; ++i) subs += "SUB load." + std::to_string(i) + " " + std::to_string(i) + "\r\n";
  sub->send(subs);
  ping_pong(*sub);

  simdjson::dom::parser p1, p2, p3;
  auto page = parse(p1, http_get(port, "/subsz?subs=1&limit=10"));
  const int64_t num = int64_t(page["num_subscriptions"]);
  if (which == "forest") {
    CHECK(num == kSubs);
  } else {
    CHECK(num >= kSubs);  // plus nats-server's internal subscriptions
  }
  CHECK(array_size(page, "subscriptions_list") == 10);
  CHECK(int64_t(page["total"]) == 10);
  CHECK(int64_t(page["limit"]) == 10);
  auto tail = parse(p2, http_get(port, "/subsz?subs=1&limit=10&offset=" + std::to_string(num - 3)));
  CHECK(array_size(tail, "subscriptions_list") == 3);
  auto one = parse(p3, http_get(port, "/subsz?subs=1&test=load.77777"));
  REQUIRE(array_size(one, "subscriptions_list") == 1);
  simdjson::dom::element entry = simdjson::dom::array(one["subscriptions_list"]).at(0);
  CHECK(std::string_view(entry["subject"]) == "load.77777");
  CHECK(std::string_view(entry["sid"]) == "77777");

  // Whole-index listings run while new clients connect: each still gets its INFO.
  std::atomic<bool> done{false};
  std::atomic<int> answered{0};
  std::thread monitoring([&] {
    for (const char* q : {"/subsz?subs=1&limit=200000", "/connz?subs=1", "/subsz?subs=1&limit=200000", "/connz?subs=detail"}) {
      if (http_get_large(port, q).find("\"server_id\"") != std::string::npos) ++answered;
    }
    done = true;
  });
  int connected = 0;
  while (!done.load() || connected < 5) {
    RawClient c("127.0.0.1", server->client_port());
    REQUIRE(c.read_line(10s).rfind("INFO ", 0) == 0);
    ++connected;
  }
  monitoring.join();
  CHECK(answered.load() == 4);
  CHECK(connected >= 5);
}

TEST_CASE("HEAD answers headers only; unknown paths get nats-server's 404", "[monitor]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  HttpConn http(server->http_port());
  const HttpResponse head = http.request("HEAD", "/varz");
  CHECK(head.status == 200);
  CHECK(head.head.find("Content-Length: ") != std::string::npos);
  // Had the HEAD answer carried a body, this response would start inside it.
  const HttpResponse next = http.request("GET", "/healthz");
  CHECK(next.status == 200);
  CHECK(next.body == "{\"status\":\"ok\"}");
  const HttpResponse missing = http.request("GET", "/varz/");
  CHECK(missing.status == 404);
  CHECK(missing.body == "404 page not found\n");
}

TEST_CASE("oversized monitoring requests get 431 or a close", "[monitor]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  {
    // Past both servers' header limits (nats-server: 1 MiB).
    RawClient big("127.0.0.1", server->http_port());
    big.send("GET /varz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2 << 20, 'a') + "\r\n\r\n");
    const std::string answer = big.read_until_closed(10s);
    CHECK((answer.empty() || answer.rfind("HTTP/1.1 431", 0) == 0));
  }
  if (which == "forest") {
    // Past ours only (16 KiB): small enough to be sent whole, so the answer is not lost.
    RawClient big("127.0.0.1", server->http_port());
    big.send("GET /varz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(32 << 10, 'a') + "\r\n\r\n");
    CHECK(big.read_until_closed(10s).rfind("HTTP/1.1 431", 0) == 0);
    RawClient body("127.0.0.1", server->http_port());
    body.send("GET /varz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'b'));
    CHECK(body.read_until_closed(10s).rfind("HTTP/1.1 413", 0) == 0);
  }
  CHECK(http_get(server->http_port(), "/healthz") == "{\"status\":\"ok\"}");
}

TEST_CASE("a monitoring session that never finishes its header is closed", "[monitor]") {
  // nats-server sets no header timeout: there such a session stays open for good.
  auto server = start("forest");
  RawClient slow("127.0.0.1", server->http_port());
  slow.send("GET /varz HTTP/1.1\r\nHost: x\r\n");
  const std::string answer = slow.read_until_closed(kReadDeadline + 15s);
  CHECK(slow.peer_closed());
  CHECK(answer.empty());
  CHECK(http_get(server->http_port(), "/healthz") == "{\"status\":\"ok\"}");
}

TEST_CASE("more monitoring sessions than the cap leave the server answering", "[monitor]") {
  constexpr int kIdle = kMaxSessions + 44;
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<RawClient>("127.0.0.1", server->http_port()));
    idle.back()->send("GET /varz HTTP/1.1\r\nHost: x\r\n");  // and never the end of the header
  }
  for (int i = 0; i < 20; ++i) {
    INFO("request " << i);
    REQUIRE(http_get(server->http_port(), "/healthz") == "{\"status\":\"ok\"}");
  }
  if (which == "forest") {
    // The oldest idle sessions made room: at most the cap is still open.
    int closed = 0;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (closed < kIdle - kMaxSessions && std::chrono::steady_clock::now() < deadline) {
      closed = 0;
      for (auto& c : idle) {
        if (!c->peer_closed()) c->read_until_closed(1ms);
        if (c->peer_closed()) ++closed;
      }
    }
    CHECK(closed >= kIdle - kMaxSessions);
    // Shutdown does not wait for the sessions still open.
    CHECK(server->stop() == 0);
  }
}

TEST_CASE("/leafz and /gatewayz of a server with neither", "[monitor]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  simdjson::dom::parser p1, p2, p3;
  const simdjson::dom::element leafz = parse(p1, http_get(server->http_port(), "/leafz?subs=1&acc=A"));
  CHECK(object_keys(leafz) == std::set<std::string>{"server_id", "now", "leafnodes", "leafs"});
  CHECK(int64_t(leafz["leafnodes"]) == 0);
  CHECK(leafz["leafs"].is_null());
  const simdjson::dom::element gatewayz = parse(p2, http_get(server->http_port(), "/gatewayz?accs=1&gw_name=x"));
  CHECK(object_keys(gatewayz) == std::set<std::string>{"server_id", "now", "outbound_gateways", "inbound_gateways"});
  CHECK(object_keys(gatewayz["outbound_gateways"]).empty());
  CHECK(object_keys(gatewayz["inbound_gateways"]).empty());
  CHECK(std::string_view(gatewayz["server_id"]) == std::string_view(leafz["server_id"]));
  // Go's bool decoding: a bad value is a 400, counted like any request to the path.
  HttpConn http(server->http_port());
  CHECK(http.request("GET", "/leafz?subs=maybe").status == 400);
  CHECK(http.request("GET", "/gatewayz?accs=maybe").status == 400);
  const auto stats = object_keys(parse(p3, http_get(server->http_port(), "/varz"))["http_req_stats"]);
  CHECK(stats.count("/leafz") == 1);
  CHECK(stats.count("/gatewayz") == 1);
}

TEST_CASE("/accstatz counts an account's connections and its clients' traffic, closed ones too", "[monitor]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  // The $G entry of /accstatz (none when absent).
  auto global_entry = [&](simdjson::dom::parser& p, const std::string& path) -> std::optional<simdjson::dom::element> {
    const simdjson::dom::element statz = parse(p, http_get(server->http_port(), path));
    simdjson::dom::array list;
    REQUIRE(statz["account_statz"].get(list) == simdjson::SUCCESS);
    for (simdjson::dom::element e : list) {
      if (std::string_view(e["acc"]) == "$G") return e;
    }
    return std::nullopt;
  };
  simdjson::dom::parser p0;
  CHECK(!global_entry(p0, "/accstatz"));  // no connections yet: not listed
  {
    auto c = connect_raw(server->client_port());
    c->send("SUB s 1\r\nPUB s 2\r\nhi\r\nPUB s 3\r\nhey\r\nPING\r\n");
    const std::string echoed = "MSG s 1 2\r\nhi\r\nMSG s 1 3\r\nhey\r\nPONG\r\n";
    REQUIRE(c->read_exactly(echoed.size(), 5s) == echoed);
    simdjson::dom::parser p1;
    const auto entry = global_entry(p1, "/accstatz");
    REQUIRE(entry);
    const simdjson::dom::element g = *entry;
    CHECK(int64_t(g["conns"]) == 1);
    CHECK(int64_t(g["total_conns"]) == 1);
    CHECK(int64_t(g["leafnodes"]) == 0);
    CHECK(int64_t(g["received"]["msgs"]) == 2);
    CHECK(int64_t(g["received"]["bytes"]) == 5);
    CHECK(int64_t(g["sent"]["msgs"]) == 2);
    CHECK(int64_t(g["sent"]["bytes"]) == 5);
    CHECK(int64_t(g["slow_consumers"]) == 0);
  }
  // Closed: no longer listed, but listed with ?unused=1, its traffic still counted.
  simdjson::dom::parser p2, p3;
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    gone = !global_entry(p2, "/accstatz");
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  REQUIRE(gone);
  const auto entry = global_entry(p3, "/accstatz?unused=1");
  REQUIRE(entry);
  const simdjson::dom::element g = *entry;
  CHECK(int64_t(g["conns"]) == 0);
  CHECK(int64_t(g["received"]["msgs"]) == 2);
  CHECK(int64_t(g["sent"]["msgs"]) == 2);
  HttpConn http(server->http_port());
  CHECK(http.request("GET", "/accstatz?unused=maybe").status == 400);
}

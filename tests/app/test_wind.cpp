// Wind on the in-process connection: leaves dropped on one embedded server are caught, as the
// Go app's JSON, on another embedded server of the same cluster (two servers in this
// process, routed over loopback); queue groups; invalid leaves are skipped and counted, never
// handed to the handler; a leaf that fails validation is not published at all.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <forest/server.hpp>

#include "app/layer/wind.hpp"
#include "embed_support.hpp"

using namespace std::chrono_literals;
using forest::app::Leaf;
using forest::app::Wind;
using forest::testing::eventually;

namespace {

forest::Config node(const std::string& name) {
  forest::Config c;
  c.node_name = name;
  c.cluster_name = "wind-test";
  c.host = "127.0.0.1";
  c.client_port = 0;
  c.monitor_port = -1;
  c.cluster_port = 0;
  c.log_sink = [](forest::LogLevel, std::string_view) {};
  return c;
}

}  // namespace

TEST_CASE("wind: a leaf dropped on one node is caught on the other, byte for byte", "[wind]") {
  forest::Server a(node("wind-a"));
  REQUIRE(a.start());
  forest::Config cb = node("wind-b");
  cb.peers = {"nats-route://127.0.0.1:" + std::to_string(a.cluster_port())};
  forest::Server b(cb);
  REQUIRE(b.start());
  auto ca = a.connect({.name = "wind-a"});
  auto cbn = b.connect({.name = "wind-b"});
  REQUIRE(ca);
  REQUIRE(cbn);
  Wind wa(**ca), wb(**cbn);

  std::mutex mu;
  std::vector<Leaf> caught;
  std::vector<std::string> raw;
  auto sub = wa.catch_leaves("payment.*", [&](const Leaf& l) {
    std::lock_guard lock(mu);
    caught.push_back(l);
  });
  REQUIRE(sub);
  // The wire bytes, as a Go node would see them.
  auto raw_sub = (*ca)->subscribe("payment.*", [&](const forest::Message& m) {
    std::lock_guard lock(mu);
    raw.push_back(m.data);
  });
  REQUIRE(raw_sub);

  Leaf leaf;
  leaf.subject = "payment.completed";
  leaf.data = R"({"amount":150,"note":"<b>&"})";
  leaf.source = "payment-tree";
  leaf.ts = forest::app::parse_go_time("2026-01-15T11:16:31.123456789Z").value();
  // Interest crosses the route asynchronously: drop until the first arrives, then count.
  REQUIRE(eventually([&] {
    REQUIRE(wb.drop(leaf));
    std::lock_guard lock(mu);
    return !caught.empty();
  }));
  std::lock_guard lock(mu);
  // Data arrives as Go wrote it (compacted, HTML-safe escaped); the rest unchanged.
  CHECK(caught.front().subject == leaf.subject);
  CHECK(caught.front().source == leaf.source);
  CHECK(caught.front().ts == leaf.ts);
  const std::string go_data = R"({"amount":150,"note":"\u003cb\u003e\u0026"})";
  CHECK(caught.front().data == go_data);
  REQUIRE(!raw.empty());
  const std::string go_json =
      R"({"subject":"payment.completed","data":{"amount":150,"note":"\u003cb\u003e\u0026"},"source":"payment-tree","ts":"2026-01-15T11:16:31.123456789Z"})";
  CHECK(raw.front() == go_json);
}

TEST_CASE("wind: invalid leaves are refused on drop and skipped on catch; queue groups share", "[wind]") {
  forest::Server s(node("wind-solo"));
  REQUIRE(s.start());
  auto conn = s.connect({.name = "wind"});
  REQUIRE(conn);
  std::vector<std::string> logged;
  std::mutex mu;
  Wind wind(**conn, [&](std::string_view line) {
    std::lock_guard lock(mu);
    logged.emplace_back(line);
  });

  Leaf no_source = forest::app::make_leaf("a.b", "{}", "");
  CHECK(!wind.drop(no_source));
  Leaf no_data = forest::app::make_leaf("a.b", "", "src");
  CHECK(!wind.drop(no_data));
  Leaf bad_json = forest::app::make_leaf("a.b", "{not json", "src");
  CHECK(!wind.drop(bad_json));

  std::atomic<int> handled{0};
  auto sub = wind.catch_leaves("events.>", [&](const Leaf&) { handled++; });
  REQUIRE(sub);
  REQUIRE((*conn)->publish("events.garbage", "not json at all"));
  const std::string no_source_json = R"({"subject":"x","data":1,"ts":"2026-01-15T11:16:31Z"})";
  REQUIRE((*conn)->publish("events.nosource", no_source_json));
  REQUIRE(wind.drop(forest::app::make_leaf("events.ok", "null", "src")));  // null data is valid
  REQUIRE((*conn)->flush());
  CHECK(handled == 1);
  CHECK(wind.invalid_received() == 2);
  {
    std::lock_guard lock(mu);
    REQUIRE(logged.size() == 2);
    CHECK(logged[0].find("events.garbage") != std::string::npos);
  }

  auto other = s.connect({.name = "wind-2"});
  REQUIRE(other);
  Wind wind2(**other);
  std::atomic<int> q1{0}, q2{0};
  auto m1 = wind.catch_leaves_with_queue("jobs.*", "workers", [&](const Leaf&) { q1++; });
  auto m2 = wind2.catch_leaves_with_queue("jobs.*", "workers", [&](const Leaf&) { q2++; });
  REQUIRE(m1);
  REQUIRE(m2);
  for (int i = 0; i < 200; ++i) REQUIRE(wind.drop(forest::app::make_leaf("jobs.x", std::to_string(i), "src")));
  REQUIRE((*conn)->flush());
  REQUIRE((*other)->flush());
  CHECK(q1 + q2 == 200);
  CHECK(q1 > 0);
  CHECK(q2 > 0);
}

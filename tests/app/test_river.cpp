// River on an embedded server: the RIVER stream as the Go app makes it, flow with the prefix
// rule and the RiverData envelope, observers on deterministic durable pull consumers (reused
// by a restart and shared by a second observer, each message handled once), undecodable
// messages nak'd with backoff and then terminated (not nak'd forever), and messages kept
// across a restart of the server on the same data dir.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <forest/jetstream.hpp>
#include <forest/server.hpp>

#include "app/layer/river.hpp"
#include "embed_support.hpp"

using namespace std::chrono_literals;
using forest::app::River;
using forest::app::RiverData;
using forest::testing::eventually;

namespace {

auto scratch(const std::string& name) { return forest::testing::scratch_dir("river-" + name); }
auto config(const std::filesystem::path& dir) { return forest::testing::quiet_config(dir); }

forest::app::RiverOptions fast(std::string tree) {
  forest::app::RiverOptions o;
  o.tree = std::move(tree);
  o.max_deliver = 3;
  o.backoff = {std::chrono::milliseconds(50), std::chrono::milliseconds(100)};
  o.fetch_wait = 200ms;
  return o;
}

}  // namespace

TEST_CASE("river: flow is observed once, acked off the work queue, in the Go app's envelope", "[river]") {
  const auto dir = scratch("flow");
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto conn = server.connect({.name = "river"});
  REQUIRE(conn);
  forest::JetStream js(**conn);
  River river(js, fast("payment-tree"));

  CHECK(!river.flow("", "x"));
  CHECK(!river.flow("stripe.webhook", ""));
  auto seq = river.flow("stripe.webhook", R"({"type":"payment"})");
  REQUIRE(seq);
  CHECK(*seq == 1);
  REQUIRE(river.flow("river.already.prefixed", "two"));

  // The stream as the Go app creates it.
  auto info = js.stream_info("RIVER");
  REQUIRE(info);
  CHECK(info->config.retention == forest::Retention::workqueue);
  CHECK(info->config.max_msgs == 100000);
  CHECK(info->config.max_age == std::chrono::hours(24));
  CHECK(info->config.subjects == std::vector<std::string>{"river.>"});
  CHECK(info->state.messages == 2);

  // The raw envelope: RiverData with base64 data.
  auto raw = js.api_request("STREAM.MSG.GET.RIVER", R"({"seq":1})");
  REQUIRE(raw);
  CHECK(raw->find("\"subject\":\"river.stripe.webhook\"") != std::string::npos);

  std::mutex mu;
  std::vector<RiverData> seen;
  auto observer = river.observe(">", [&](const RiverData& d) {
    std::lock_guard lock(mu);
    seen.push_back(d);
  });
  REQUIRE(observer);
  CHECK((*observer)->durable() == "payment-tree-river_ALL");
  REQUIRE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() == 2;
  }));
  {
    std::lock_guard lock(mu);
    CHECK(seen[0].subject == "river.stripe.webhook");
    CHECK(seen[0].data == std::optional<std::string>(R"({"type":"payment"})"));
    CHECK(seen[1].subject == "river.already.prefixed");
  }
  // Acked: gone from the work queue.
  CHECK(eventually([&] {
    auto i = js.stream_info("RIVER");
    return i && i->state.messages == 0;
  }));
  (*observer)->stop();
  server.shutdown();
  std::filesystem::remove_all(dir);
}

TEST_CASE("river: durable names are deterministic; two observers share one consumer, each message once", "[river]") {
  const auto dir = scratch("share");
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto c1 = server.connect({.name = "node-1"});
  auto c2 = server.connect({.name = "node-2"});
  REQUIRE(c1);
  REQUIRE(c2);
  forest::JetStream js1(**c1), js2(**c2);
  River r1(js1, fast("orders")), r2(js2, fast("orders"));
  CHECK(River::durable_name("orders", "order.*") == "orders-river_order_STAR");

  std::mutex mu;
  std::multiset<std::string> handled;
  auto record = [&](const RiverData& d) {
    std::lock_guard lock(mu);
    handled.insert(*d.data);
  };
  auto o1 = r1.observe("order.*", record);
  REQUIRE(o1);
  auto o2 = r2.observe("order.*", record);  // the same durable: no work-queue overlap error
  REQUIRE(o2);
  CHECK((*o1)->durable() == (*o2)->durable());
  constexpr int kMsgs = 200;
  for (int i = 0; i < kMsgs; ++i) REQUIRE(r1.flow("order.new", std::to_string(i)));
  REQUIRE(eventually([&] {
    std::lock_guard lock(mu);
    return handled.size() >= kMsgs;
  }));
  std::this_thread::sleep_for(300ms);  // nothing is handled twice after that either
  std::lock_guard lock(mu);
  CHECK(handled.size() == kMsgs);
  std::set<std::string> distinct(handled.begin(), handled.end());
  CHECK(distinct.size() == kMsgs);
  CHECK((*o1)->handled() + (*o2)->handled() == kMsgs);
}

TEST_CASE("river: an undecodable message is retried with backoff, then terminated; the handler never sees it",
          "[river]") {
  const auto dir = scratch("bad");
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto conn = server.connect({.name = "river"});
  REQUIRE(conn);
  forest::JetStream js(**conn);
  std::vector<std::string> logged;
  std::mutex mu;
  River river(js, fast("t"), [&](std::string_view line) {
    std::lock_guard lock(mu);
    logged.emplace_back(line);
  });
  REQUIRE(river.ensure_stream());
  // What main.go's `nats pub` hint sends: a raw Stripe event, not a RiverData envelope. Its
  // "data" is an object where RiverData has base64 bytes, so it does not decode (in Go too).
  const std::string stripe_event = R"({"type":"charge.succeeded","data":{"object":{"amount":15000}}})";
  REQUIRE(js.publish("river.stripe.webhook", stripe_event));
  std::atomic<int> calls{0};
  auto observer = river.observe("stripe.webhook", [&](const RiverData&) { calls++; });
  REQUIRE(observer);
  const bool terminated = eventually([&] { return (*observer)->terminated() == 1; });
  INFO("undecodable " << (*observer)->undecodable() << ", handled " << (*observer)->handled());
  REQUIRE(terminated);
  CHECK((*observer)->undecodable() == 3);  // max_deliver deliveries in all
  CHECK(calls == 0);
  std::lock_guard lock(mu);
  REQUIRE(!logged.empty());
  CHECK(logged.back().find("terminating undecodable message 1") != std::string::npos);
}

TEST_CASE("river: messages flowed before a restart are observed after it", "[river]") {
  const auto dir = scratch("restart");
  {
    forest::Server server(config(dir));
    REQUIRE(server.start());
    auto conn = server.connect({.name = "before"});
    REQUIRE(conn);
    forest::JetStream js(**conn);
    River river(js, fast("t"));
    for (int i = 0; i < 3; ++i) REQUIRE(river.flow("kept", std::to_string(i)));
    (*conn)->close();
    server.shutdown();
  }
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto conn = server.connect({.name = "after"});
  REQUIRE(conn);
  forest::JetStream js(**conn);
  River river(js, fast("t"));
  std::atomic<int> got{0};
  auto observer = river.observe("kept", [&](const RiverData&) { got++; });
  REQUIRE(observer);
  CHECK(eventually([&] { return got == 3; }));
  (*observer)->stop();
  server.shutdown();
  std::filesystem::remove_all(dir);
}

// The seed's flow in one process: the demo's sample Stripe events go river -> payment-tree ->
// leaves on the wind -> aftersales-nim -> composts on humus -> the decomposer -> soil. Every
// payment ends as one soil task, the nim's leaves are dropped, and the tree's leaf has the Go
// app's JSON.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include <forest/jetstream.hpp>
#include <forest/server.hpp>

#include "app/layer/decomposer.hpp"
#include "app/examples/demo.hpp"
#include "embed_support.hpp"

using namespace std::chrono_literals;
using namespace forest::app;

TEST_CASE("demo: river, tree, leaf, nim, humus and soil end to end", "[demo]") {
  const auto dir = forest::testing::scratch_dir("demo");
  forest::Server server(forest::testing::quiet_config(dir));
  REQUIRE(server.start());
  auto conn = server.connect({.name = "forest"});
  REQUIRE(conn);
  std::mutex mu;
  std::vector<std::string> lines;
  LogFn log = [&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  };
  Wind wind(**conn, log);
  forest::JetStream js(**conn);
  RiverOptions ro;
  ro.tree = "demo-node";
  ro.fetch_wait = 200ms;
  River river(js, ro, log);
  Humus humus(js);
  auto soil = Soil::open(js);
  REQUIRE(soil);
  DecomposerOptions dopts;
  dopts.fetch_wait = 200ms;
  auto decomposer = Decomposer::start(js, humus, dopts, log);
  REQUIRE(decomposer);

  std::vector<std::string> completed, followups, emails;
  auto s1 = wind.catch_leaves("payment.completed", [&](const Leaf& l) {
    std::lock_guard lock(mu);
    completed.push_back(l.data);
  });
  auto s2 = wind.catch_leaves("followup.required", [&](const Leaf& l) {
    std::lock_guard lock(mu);
    followups.push_back(l.source);
  });
  auto s3 = wind.catch_leaves("email.send", [&](const Leaf& l) {
    std::lock_guard lock(mu);
    emails.push_back(l.data);
  });
  REQUIRE(s1);
  REQUIRE(s2);
  REQUIRE(s3);

  forest::examples::Demo demo(wind, river, humus, *soil, log);
  REQUIRE(demo.start());
  CHECK(demo.flow_samples() == 4);
  auto soil_lines = [&] {
    std::lock_guard lock(mu);
    return std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.starts_with("demo: soil task-"); });
  };
  REQUIRE(forest::testing::eventually([&] { return soil_lines() == 4; }));
  auto keys = soil->keys();
  REQUIRE(keys);
  CHECK(keys->size() == 4);
  CHECK((*decomposer)->applied() == 4);
  std::lock_guard lock(mu);
  REQUIRE(completed.size() == 3);
  CHECK(completed[0] == R"({"customer_id":"cus_demo1","amount":150,"currency":"usd","item_id":"oak-sapling"})");
  CHECK(followups.size() == 4);
  CHECK(followups[0] == "aftersales-nim");
  CHECK(emails.size() == 1);  // only the 150 USD payment is 100 or more
  demo.stop();
  (*decomposer)->stop();
  server.shutdown();
  std::filesystem::remove_all(dir);
}

// Humus, Soil and the Decomposer on an embedded server: Humus validates as the Go app and
// returns the stream sequence; Soil's dig/bury/put/remove/keys/watch semantics; the
// Decomposer applies create/update/delete in stream order; two decomposers on one stream
// apply each compost once, also when one dies between its soil write and its ack.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <forest/jetstream.hpp>
#include <forest/server.hpp>

#include "app/layer/decomposer.hpp"
#include "app/layer/humus.hpp"
#include "app/layer/soil.hpp"
#include "embed_support.hpp"

using namespace std::chrono_literals;
using namespace forest::app;
using forest::testing::eventually;

namespace {

auto scratch(const std::string& name) { return forest::testing::scratch_dir("soil-" + name); }
auto config(const std::filesystem::path& dir) { return forest::testing::quiet_config(dir); }

DecomposerOptions quick() {
  DecomposerOptions o;
  o.ack_wait = 1s;
  o.backoff = {50ms, 100ms};
  o.fetch_wait = 200ms;
  return o;
}

}  // namespace

TEST_CASE("humus: the Go app's validation, the stream, the slot", "[soil]") {
  const auto dir = scratch("humus");
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto conn = server.connect({.name = "humus"});
  REQUIRE(conn);
  forest::JetStream js(**conn);
  Humus humus(js);
  REQUIRE(humus.ensure_stream());
  CHECK(!humus.add("", "e", "create", "{}"));
  CHECK(!humus.add("nim", "", "create", "{}"));
  CHECK(!humus.add("nim", "e", "", "{}"));
  CHECK(!humus.add("nim", "e", "upsert", "{}"));
  CHECK(!humus.add("nim", "e", "update", ""));
  auto slot = humus.add("aftersales-nim", "tasks/followup-123", "create", R"({"status":"pending"})");
  REQUIRE(slot);
  CHECK(*slot == 1);
  auto del = humus.add("aftersales-nim", "tasks/followup-123", "delete", "");  // data becomes null
  REQUIRE(del);
  CHECK(*del == 2);
  auto info = js.stream_info("HUMUS");
  REQUIRE(info);
  CHECK(info->config.subjects == std::vector<std::string>{"humus.>"});
  CHECK(info->config.max_msgs == 1000000);
  CHECK(info->config.max_age == std::chrono::hours(24 * 7));
  auto msg = js.api_request("STREAM.MSG.GET.HUMUS", R"({"seq":2})");
  REQUIRE(msg);
  CHECK(msg->find("\"subject\":\"humus.aftersales-nim.delete\"") != std::string::npos);
  server.shutdown();
  std::filesystem::remove_all(dir);
}

TEST_CASE("soil: dig, bury with revisions, put, remove, keys, watch", "[soil]") {
  const auto dir = scratch("soil");
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto conn = server.connect({.name = "soil"});
  REQUIRE(conn);
  forest::JetStream js(**conn);
  auto soil = Soil::open(js);
  REQUIRE(soil);
  auto missing = soil->dig("nobody");
  REQUIRE(!missing);
  CHECK(missing.error().status == 404);
  auto r1 = soil->bury("tasks/a", R"({"v":1})", 0);
  REQUIRE(r1);
  CHECK(!soil->bury("tasks/a", R"({"v":2})", 0));  // exists
  auto r2 = soil->bury("tasks/a", R"({"v":2})", *r1);
  REQUIRE(r2);
  CHECK(!soil->bury("tasks/a", R"({"v":3})", *r1));  // stale revision
  auto got = soil->dig("tasks/a");
  REQUIRE(got);
  CHECK(got->first == R"({"v":2})");
  CHECK(got->second == *r2);
  REQUIRE(soil->put("tasks/b", "1"));
  REQUIRE(soil->remove("tasks/b"));
  CHECK(!soil->remove("tasks/b"));  // twice is an error, as in the Go app
  auto keys = soil->keys();
  REQUIRE(keys);
  CHECK(*keys == std::vector<std::string>{"tasks/a"});

  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> seen;
  auto watcher = soil->watch("", [&](const std::string& k, const std::string& v, uint64_t) {
    std::lock_guard lock(mu);
    seen.emplace_back(k, v);
  });
  REQUIRE(watcher);
  REQUIRE(soil->put("tasks/c", "3"));
  REQUIRE(soil->remove("tasks/a"));  // a delete: not passed on
  REQUIRE(soil->put("tasks/d", "4"));
  REQUIRE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 3;
  }));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lock(mu);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::pair<std::string, std::string>{"tasks/a", R"({"v":2})"});  // the current value first
  CHECK(seen[1] == std::pair<std::string, std::string>{"tasks/c", "3"});
  CHECK(seen[2] == std::pair<std::string, std::string>{"tasks/d", "4"});
}

TEST_CASE("decomposer: create, update, delete reach soil in order, values as the humus data", "[soil]") {
  const auto dir = scratch("decompose");
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto conn = server.connect({.name = "decomposer"});
  REQUIRE(conn);
  forest::JetStream js(**conn);
  Humus humus(js);
  auto decomposer = Decomposer::start(js, humus, quick());
  REQUIRE(decomposer);
  auto soil = Soil::open(js);
  REQUIRE(soil);
  REQUIRE(humus.add("nim", "entity-1", "create", R"({"status":"new","note":"<b>"})"));
  REQUIRE(humus.add("nim", "entity-1", "update", R"({"status":"done"})"));
  REQUIRE(humus.add("nim", "entity-2", "update", R"({"created":"by update"})"));  // absent: created
  REQUIRE(humus.add("nim", "entity-3", "create", "1"));
  REQUIRE(humus.add("nim", "entity-3", "delete", ""));
  REQUIRE(humus.add("nim", "entity-1", "create", "2"));  // exists: logged, not applied
  REQUIRE(eventually([&] { return (*decomposer)->applied() + (*decomposer)->rejected() == 6; }));
  CHECK((*decomposer)->applied() == 5);
  CHECK((*decomposer)->rejected() == 1);
  auto e1 = soil->dig("entity-1");
  REQUIRE(e1);
  CHECK(e1->first == R"({"status":"done"})");
  auto e2 = soil->dig("entity-2");
  REQUIRE(e2);
  CHECK(e2->first == R"({"created":"by update"})");
  CHECK(!soil->dig("entity-3"));
  (*decomposer)->stop();
  server.shutdown();
  std::filesystem::remove_all(dir);
}

TEST_CASE("decomposer: each compost applied once when one dies before its ack and two share the stream",
          "[soil]") {
  const auto dir = scratch("two");
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto ca = server.connect({.name = "node-a"});
  auto cb = server.connect({.name = "node-b"});
  auto cc = server.connect({.name = "node-c"});
  REQUIRE(ca);
  REQUIRE(cb);
  REQUIRE(cc);
  forest::JetStream ja(**ca), jb(**cb), jc(**cc);
  Humus humus(ja);
  REQUIRE(humus.ensure_stream());
  constexpr int kComposts = 40;
  for (int i = 1; i <= kComposts; ++i) {
    REQUIRE(humus.add("nim", "task-" + std::to_string(i), "create", std::to_string(i)));
  }
  // A, alone on the stream, dies right after writing compost 7 to soil, before acking it.
  std::atomic<uint64_t> died_at{0};
  DecomposerOptions oa = quick();
  oa.die_after_apply = [&](uint64_t seq) {
    if (seq != 7) return false;
    died_at = seq;
    return true;
  };
  auto a = Decomposer::start(ja, humus, oa);
  REQUIRE(a);
  REQUIRE(eventually([&] { return (*a)->stopped(); }));
  CHECK(died_at == 7);
  CHECK((*a)->applied() == 6);
  // B and C share the rest; compost 7 comes back after A's ack wait, already in soil.
  Humus hb(jb), hc(jc);
  auto b = Decomposer::start(jb, hb, quick());
  auto c = Decomposer::start(jc, hc, quick());
  REQUIRE(b);
  REQUIRE(c);
  auto settled = [&] {
    return (*b)->applied() + (*c)->applied() + (*b)->already_applied() + (*c)->already_applied();
  };
  REQUIRE(eventually([&] { return settled() >= kComposts - 6; }, 30s));
  CHECK((*b)->already_applied() + (*c)->already_applied() == 1);
  CHECK((*b)->applied() + (*c)->applied() == kComposts - 7);
  auto soil = Soil::open(jb);
  REQUIRE(soil);
  for (int i = 1; i <= kComposts; ++i) {
    const std::string key = "task-" + std::to_string(i);
    auto h = soil->bucket().history(key);
    REQUIRE(h);
    INFO(key);
    CHECK(h->size() == 1);  // written exactly once
    if (!h->empty()) CHECK((*h)[0].value == std::to_string(i));
  }
  (*b)->stop();
  (*c)->stop();
  server.shutdown();
  std::filesystem::remove_all(dir);
}

TEST_CASE("decomposer: a push consumer named decomposer (the Go app's) is a clear start error", "[soil]") {
  const auto dir = scratch("go-push");
  forest::Server server(config(dir));
  REQUIRE(server.start());
  auto conn = server.connect({.name = "go-left-this"});
  REQUIRE(conn);
  forest::JetStream js(**conn);
  Humus humus(js);
  REQUIRE(humus.ensure_stream());
  forest::ConsumerConfig go;
  go.durable_name = "decomposer";
  go.filter_subject = "humus.>";
  go.deliver_subject = "_INBOX.go-app-push";
  REQUIRE(js.add_consumer("HUMUS", go));
  auto d = Decomposer::start(js, humus, quick());
  REQUIRE(!d);
  CHECK(d.error().text.find("push consumer") != std::string::npos);
  CHECK(d.error().text.find("nats consumer rm HUMUS decomposer") != std::string::npos);
  server.shutdown();
  std::filesystem::remove_all(dir);
}

// Durability and store-directory errors of forest-server's JetStream: every acknowledged
// publish survives kill -9 (the ack leaves after the batch is in RocksDB's WAL); a store
// directory held by another running forest-server, or that is not a store, is a startup
// error with a non-zero exit, never an empty store.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <fstream>

#include "js_target.hpp"
#include "run_command.hpp"

using namespace forest::testing;
namespace fs = std::filesystem;

namespace {

jsStreamInfo* add_file_stream(jsCtx* js, const char* name, const char* subject) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  const char* subjects[] = {subject};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  jsStreamInfo* si = nullptr;
  jsErrCode err;
  if (js_AddStream(&si, js, &cfg, nullptr, &err) != NATS_OK) return nullptr;
  return si;
}

uint64_t stream_msgs(jsCtx* js, const char* name, uint64_t* last = nullptr) {
  jsStreamInfo* si = nullptr;
  jsErrCode err;
  if (js_GetStreamInfo(&si, js, name, nullptr, &err) != NATS_OK) return UINT64_MAX;
  const uint64_t n = si->State.Msgs;
  if (last != nullptr) *last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return n;
}

std::atomic<int> g_acked{0};

void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void*) {
  if (pa != nullptr && pae == nullptr) g_acked.fetch_add(1);
  natsMsg_Destroy(msg);
}

}  // namespace

TEST_CASE("acknowledged publishes survive kill -9, in both sync_interval modes", "[jetstream][durability]") {
  for (const std::string& sync : {std::string("default"), std::string("always")}) {
    INFO("sync_interval " << sync);
    std::vector<std::string> extra;
    fs::path conf;
    if (sync == "always") {
      conf = fs::temp_directory_path() / ("forest-js-always-" + std::to_string(::getpid()) + ".conf");
      std::ofstream(conf) << "jetstream { sync_interval: always }\n";
      extra = {"-c", conf.string()};
    }
    JsTarget t("forest", "crash-" + sync, extra);
    REQUIRE(t.ready());
    jsStreamInfo* si = add_file_stream(t.js, "DUR", "dur.>");
    REQUIRE(si != nullptr);
    jsStreamInfo_Destroy(si);
    uint64_t acked = 0;
    for (int round = 0; round < 3; ++round) {
      // Synchronous publishes: each acknowledged one by one.
      for (int i = 0; i < 50; ++i) {
        jsPubAck* pa = nullptr;
        jsErrCode err;
        const std::string data = "sync-" + std::to_string(acked + 1);
        REQUIRE(js_Publish(&pa, t.js, "dur.sync", data.data(), static_cast<int>(data.size()), nullptr, &err) == NATS_OK);
        CHECK(pa->Sequence == acked + 1);
        jsPubAck_Destroy(pa);
        ++acked;
      }
      // Asynchronous publishes: many in flight, so batches of several messages are committed.
      jsCtx* ajs = nullptr;
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.PublishAsync.AckHandler = on_ack;
      jo.PublishAsync.MaxPending = 256;
      REQUIRE(natsConnection_JetStream(&ajs, t.nc, &jo) == NATS_OK);
      g_acked = 0;
      constexpr int kAsync = 500;
      for (int i = 0; i < kAsync; ++i) {
        const std::string data = "async-" + std::to_string(i);
        REQUIRE(js_PublishAsync(ajs, "dur.async", data.data(), static_cast<int>(data.size()), nullptr) == NATS_OK);
      }
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 10000;
      REQUIRE(js_PublishAsyncComplete(ajs, &po) == NATS_OK);
      jsCtx_Destroy(ajs);
      CHECK(g_acked.load() == kAsync);
      acked += static_cast<uint64_t>(g_acked.load());

      t.crash_and_restart();
      REQUIRE(t.ready());
      uint64_t last = 0;
      CHECK(stream_msgs(t.js, "DUR", &last) == acked);
      CHECK(last == acked);
      natsMsg* m = nullptr;
      jsErrCode err;
      REQUIRE(js_GetLastMsg(&m, t.js, "DUR", "dur.async", nullptr, &err) == NATS_OK);
      CHECK(std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))) ==
            "async-" + std::to_string(kAsync - 1));
      natsMsg_Destroy(m);
    }
    // The restarted server still takes new publishes after the recovered ones.
    jsPubAck* pa = nullptr;
    jsErrCode err;
    REQUIRE(js_Publish(&pa, t.js, "dur.sync", "x", 1, nullptr, &err) == NATS_OK);
    CHECK(pa->Sequence == acked + 1);
    jsPubAck_Destroy(pa);
    if (!conf.empty()) fs::remove(conf);
  }
}

TEST_CASE("a store directory that cannot be used is a startup error", "[jetstream][store]") {
  const fs::path base = fs::temp_directory_path() / ("forest-js-bad-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base);
  std::string out;

  SECTION("held by another running forest-server") {
    JsTarget first("forest", "locked");
    REQUIRE(first.ready());
    const int rc = run_command({ServerProcess::forest_binary(), "-a", "127.0.0.1", "-p", "-1", "-js", "-sd",
                                first.dir.string()}, &out);
    CHECK(rc != 0);
    INFO(out);
    CHECK(out.find((first.dir / "jetstream" / "forest-store").string()) != std::string::npos);
    CHECK(out.find("lock") != std::string::npos);
    // The first server is unharmed.
    CHECK(first.server->running());
    jsAccountInfo* ai = nullptr;
    jsErrCode err;
    CHECK(js_GetAccountInfo(&ai, first.js, nullptr, &err) == NATS_OK);
    if (ai != nullptr) jsAccountInfo_Destroy(ai);
  }
  SECTION("a store directory with something else in it") {
    const fs::path store = base / "jetstream" / "forest-store";
    fs::create_directories(store);
    std::ofstream(store / "garbage") << "not a RocksDB store\n";
    const int rc = run_command({ServerProcess::forest_binary(), "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", base.string()}, &out);
    CHECK(rc != 0);
    INFO(out);
    CHECK(out.find(store.string()) != std::string::npos);
    CHECK(fs::exists(store / "garbage"));  // left as it was
  }
  SECTION("a store directory that is a file") {
    const fs::path file = base / "plain-file";
    std::ofstream(file) << "x";
    const int rc = run_command({ServerProcess::forest_binary(), "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", file.string()}, &out);
    CHECK(rc != 0);
    CHECK(out.find(file.string()) != std::string::npos);
  }
  SECTION("a store directory this user may not read") {
    if (::geteuid() == 0) {
      WARN("skipped: root reads every directory");
    } else {
      const fs::path store = base / "jetstream";
      fs::create_directories(store);
      ::chmod(store.c_str(), 0);
      const int rc = run_command({ServerProcess::forest_binary(), "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", base.string()}, &out);
      ::chmod(store.c_str(), 0755);
      CHECK(rc != 0);
    }
  }
  fs::remove_all(base);
}

TEST_CASE("a reload that changes JetStream options is refused and JetStream keeps serving", "[jetstream][reload]") {
  const fs::path conf = fs::temp_directory_path() / ("forest-js-reload-" + std::to_string(::getpid()) + ".conf");
  std::ofstream(conf) << "jetstream { domain: one }\n";
  JsTarget t("forest", "reload", {"-c", conf.string()});
  REQUIRE(t.ready());
  jsStreamInfo* si = add_file_stream(t.js, "R", "r");
  REQUIRE(si != nullptr);
  jsStreamInfo_Destroy(si);
  std::ofstream(conf, std::ios::trunc) << "jetstream { domain: two }\n";
  t.server->send_signal(SIGHUP);
  CHECK(t.server->wait_for_log("config reload not supported for jetstream", std::chrono::seconds(5)));
  jsPubAck* pa = nullptr;
  jsErrCode err;
  REQUIRE(js_Publish(&pa, t.js, "r", "x", 1, nullptr, &err) == NATS_OK);
  CHECK(pa->Sequence == 1);
  CHECK(std::string(pa->Domain) == "one");
  jsPubAck_Destroy(pa);
  fs::remove(conf);
}

TEST_CASE("publishes that arrive together are stored in one batch (group commit)", "[jetstream][batch]") {
  JsTarget t("forest", "batch", {"-D"});
  REQUIRE(t.ready());
  jsStreamInfo* si = add_file_stream(t.js, "B", "b");
  REQUIRE(si != nullptr);
  jsStreamInfo_Destroy(si);
  jsCtx* ajs = nullptr;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.AckHandler = on_ack;
  REQUIRE(natsConnection_JetStream(&ajs, t.nc, &jo) == NATS_OK);
  g_acked = 0;
  for (int i = 0; i < 1000; ++i) REQUIRE(js_PublishAsync(ajs, "b", "x", 1, nullptr) == NATS_OK);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 10000;
  REQUIRE(js_PublishAsyncComplete(ajs, &po) == NATS_OK);
  jsCtx_Destroy(ajs);
  CHECK(g_acked.load() == 1000);
  CHECK(stream_msgs(t.js, "B") == 1000);
  // The server logs each batch's size: with a thousand publishes in flight some batch holds
  // more than one, and the batches add up to the thousand.
  const std::string log = t.server->log();
  const std::string marker = "group commit of ";
  uint64_t total = 0, largest = 0;
  for (auto at = log.find(marker); at != std::string::npos; at = log.find(marker, at + 1)) {
    const uint64_t n = std::stoull(log.substr(at + marker.size()));
    total += n;
    largest = std::max(largest, n);
  }
  CHECK(total == 1000);
  CHECK(largest > 1);
}

TEST_CASE("AckSync'd messages are never delivered again after kill -9; the others come back (work queue)",
          "[jetstream][durability][consumers]") {
  JsTarget t("forest", "ackcrash");
  REQUIRE(t.ready());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "WQ";
  const char* subjects[] = {"wq.>"};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Retention = js_WorkQueuePolicy;
  jsStreamInfo* si = nullptr;
  jsErrCode err{};
  REQUIRE(js_AddStream(&si, t.js, &cfg, nullptr, &err) == NATS_OK);
  jsStreamInfo_Destroy(si);
  constexpr int kMsgs = 300;
  for (int i = 1; i <= kMsgs; ++i) {
    jsPubAck* pa = nullptr;
    const std::string data = std::to_string(i);
    REQUIRE(js_Publish(&pa, t.js, "wq.job", data.data(), static_cast<int>(data.size()), nullptr, &err) == NATS_OK);
    jsPubAck_Destroy(pa);
  }
  std::set<uint64_t> acked;
  auto subscribe = [&] {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = 300'000'000;  // unacknowledged ones come back soon after a restart
    natsSubscription* sub = nullptr;
    REQUIRE(js_PullSubscribe(&sub, t.js, "wq.>", "WORKER", nullptr, &so, &err) == NATS_OK);
    return sub;
  };
  for (int round = 0; round < 4; ++round) {
    INFO("round " << round);
    natsSubscription* sub = subscribe();
    natsMsgList list{};
    REQUIRE(natsSubscription_Fetch(&list, sub, 60, 2000, &err) == NATS_OK);
    for (int i = 0; i < list.Count; ++i) {
      jsMsgMetaData* md = nullptr;
      REQUIRE(natsMsg_GetMetaData(&md, list.Msgs[i]) == NATS_OK);
      const uint64_t seq = md->Sequence.Stream;
      jsMsgMetaData_Destroy(md);
      CHECK(acked.count(seq) == 0);  // an acknowledged message never comes again
      if (seq % 3 != 0 && natsMsg_AckSync(list.Msgs[i], nullptr, &err) == NATS_OK) acked.insert(seq);
    }
    natsMsgList_Destroy(&list);
    natsSubscription_Destroy(sub);
    t.crash_and_restart();
    REQUIRE(t.ready());
    CHECK(stream_msgs(t.js, "WQ") == kMsgs - acked.size());
  }
  // Everything not acknowledged is still there and is delivered.
  natsSubscription* sub = subscribe();
  std::set<uint64_t> rest;
  for (int i = 0; i < 20 && rest.size() < kMsgs - acked.size(); ++i) {
    natsMsgList list{};
    if (natsSubscription_Fetch(&list, sub, 100, 1000, &err) != NATS_OK) continue;
    for (int j = 0; j < list.Count; ++j) {
      jsMsgMetaData* md = nullptr;
      REQUIRE(natsMsg_GetMetaData(&md, list.Msgs[j]) == NATS_OK);
      rest.insert(md->Sequence.Stream);
      jsMsgMetaData_Destroy(md);
      natsMsg_AckSync(list.Msgs[j], nullptr, &err);
    }
    natsMsgList_Destroy(&list);
  }
  natsSubscription_Destroy(sub);
  CHECK(rest.size() == kMsgs - acked.size());
  for (uint64_t seq : rest) CHECK(acked.count(seq) == 0);
  CHECK(stream_msgs(t.js, "WQ") == 0);
}

// The key-value store as libnats builds it on JetStream (a KV_<bucket> stream with rollups,
// per-subject history, direct get, last-per-subject watchers): the same assertions on
// forest-server and nats-server 2.9.10, then the bucket across a kill -9 (forest-server).
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "js_target.hpp"

using namespace forest::testing;

namespace {

// Both servers, or forest alone under FOREST_SKIP_ORACLE=1 (server_process.hpp).
const std::vector<std::string> kKinds = server_kinds();

kvStore* create_bucket(jsCtx* js, const char* bucket, uint8_t history) {
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = bucket;
  cfg.History = history;
  kvStore* kv = nullptr;
  if (js_CreateKeyValue(&kv, js, &cfg) != NATS_OK) return nullptr;
  return kv;
}

// "value@revision", "<deleted>@revision" or the status when the get failed.
std::string get(kvStore* kv, const char* key) {
  kvEntry* e = nullptr;
  const natsStatus s = kvStore_Get(&e, kv, key);
  if (s != NATS_OK) return std::string("status:") + natsStatus_GetText(s);
  std::string out = kvEntry_Operation(e) == kvOp_Put ? std::string(kvEntry_ValueString(e)) : std::string("<deleted>");
  out.append("@").append(std::to_string(kvEntry_Revision(e)));
  kvEntry_Destroy(e);
  return out;
}

std::string key_name(int i) {
  std::string k = "k";
  k.append(std::to_string(i));
  return k;
}

}  // namespace

TEST_CASE("key-value: put, get, create, update with revision, delete, purge, keys, history", "[jetstream][kv]") {
  for (const std::string& kind : kKinds) {
    if (kind == "nats" && !have_reference()) {
      WARN("skipped: no " << ServerProcess::nats_binary());
      continue;
    }
    INFO("server: " << kind);
    JsTarget t(kind, "kv");
    REQUIRE(t.ready());
    kvStore* kv = create_bucket(t.js, "CFG", 5);
    REQUIRE(kv != nullptr);
    uint64_t rev = 0;
    REQUIRE(kvStore_PutString(&rev, kv, "color", "red") == NATS_OK);
    CHECK(rev == 1);
    REQUIRE(kvStore_PutString(&rev, kv, "size", "L") == NATS_OK);
    CHECK(rev == 2);
    CHECK(get(kv, "color") == "red@1");
    CHECK(get(kv, "missing") == std::string("status:") + natsStatus_GetText(NATS_NOT_FOUND));
    // Create only when absent; update only from the current revision.
    CHECK(kvStore_CreateString(&rev, kv, "color", "blue") != NATS_OK);
    REQUIRE(kvStore_CreateString(&rev, kv, "shape", "round") == NATS_OK);
    CHECK(rev == 3);
    CHECK(kvStore_UpdateString(&rev, kv, "color", "green", 2) != NATS_OK);
    REQUIRE(kvStore_UpdateString(&rev, kv, "color", "green", 1) == NATS_OK);
    CHECK(rev == 4);
    CHECK(get(kv, "color") == "green@4");
    // Delete leaves a marker (a get says not found); create works again after it.
    REQUIRE(kvStore_Delete(kv, "size") == NATS_OK);
    CHECK(get(kv, "size") == std::string("status:") + natsStatus_GetText(NATS_NOT_FOUND));
    REQUIRE(kvStore_CreateString(&rev, kv, "size", "M") == NATS_OK);
    CHECK(rev == 6);
    kvKeysList keys{};
    REQUIRE(kvStore_Keys(&keys, kv, nullptr) == NATS_OK);
    std::set<std::string> names;
    for (int i = 0; i < keys.Count; ++i) names.insert(keys.Keys[i]);
    kvKeysList_Destroy(&keys);
    CHECK(names == std::set<std::string>{"color", "shape", "size"});
    kvEntryList history{};
    REQUIRE(kvStore_History(&history, kv, "color", nullptr) == NATS_OK);
    REQUIRE(history.Count == 2);
    CHECK(std::string(kvEntry_ValueString(history.Entries[0])) == "red");
    CHECK(std::string(kvEntry_ValueString(history.Entries[1])) == "green");
    kvEntryList_Destroy(&history);
    // Purge drops the key's history but its marker.
    REQUIRE(kvStore_Purge(kv, "color", nullptr) == NATS_OK);
    CHECK(get(kv, "color") == std::string("status:") + natsStatus_GetText(NATS_NOT_FOUND));
    history = kvEntryList{};
    REQUIRE(kvStore_History(&history, kv, "color", nullptr) == NATS_OK);
    CHECK(history.Count == 1);
    kvEntryList_Destroy(&history);
    // History is bounded per key.
    for (int i = 0; i < 8; ++i) REQUIRE(kvStore_PutString(&rev, kv, "counter", std::to_string(i).c_str()) == NATS_OK);
    history = kvEntryList{};
    REQUIRE(kvStore_History(&history, kv, "counter", nullptr) == NATS_OK);
    CHECK(history.Count == 5);
    if (history.Count > 0) CHECK(std::string(kvEntry_ValueString(history.Entries[history.Count - 1])) == "7");
    kvEntryList_Destroy(&history);
    kvStore_Destroy(kv);
    CHECK(js_DeleteKeyValue(t.js, "CFG") == NATS_OK);
  }
}

TEST_CASE("key-value: a watcher sees the current values, the end of them, then every change", "[jetstream][kv]") {
  for (const std::string& kind : kKinds) {
    if (kind == "nats" && !have_reference()) {
      WARN("skipped: no " << ServerProcess::nats_binary());
      continue;
    }
    INFO("server: " << kind);
    JsTarget t(kind, "kvwatch");
    REQUIRE(t.ready());
    kvStore* kv = create_bucket(t.js, "W", 3);
    REQUIRE(kv != nullptr);
    uint64_t rev = 0;
    REQUIRE(kvStore_PutString(&rev, kv, "a.1", "x") == NATS_OK);
    REQUIRE(kvStore_PutString(&rev, kv, "a.1", "y") == NATS_OK);
    REQUIRE(kvStore_PutString(&rev, kv, "a.2", "z") == NATS_OK);
    REQUIRE(kvStore_PutString(&rev, kv, "b.1", "other") == NATS_OK);
    kvWatcher* w = nullptr;
    REQUIRE(kvStore_Watch(&w, kv, "a.*", nullptr) == NATS_OK);
    std::vector<std::string> seen;
    for (int i = 0; i < 3; ++i) {
      kvEntry* e = nullptr;
      REQUIRE(kvWatcher_Next(&e, w, 2000) == NATS_OK);
      if (e == nullptr) {
        seen.emplace_back("<end>");
        continue;
      }
      seen.push_back(std::string(kvEntry_Key(e)) + "=" + kvEntry_ValueString(e));
      kvEntry_Destroy(e);
    }
    CHECK(seen == std::vector<std::string>{"a.1=y", "a.2=z", "<end>"});
    REQUIRE(kvStore_PutString(&rev, kv, "a.2", "new") == NATS_OK);
    REQUIRE(kvStore_PutString(&rev, kv, "b.1", "ignored") == NATS_OK);
    REQUIRE(kvStore_Delete(kv, "a.1") == NATS_OK);
    kvEntry* e = nullptr;
    REQUIRE(kvWatcher_Next(&e, w, 2000) == NATS_OK);
    REQUIRE(e != nullptr);
    CHECK(std::string(kvEntry_Key(e)) == "a.2");
    CHECK(std::string(kvEntry_ValueString(e)) == "new");
    kvEntry_Destroy(e);
    REQUIRE(kvWatcher_Next(&e, w, 2000) == NATS_OK);
    REQUIRE(e != nullptr);
    CHECK(std::string(kvEntry_Key(e)) == "a.1");
    CHECK(kvEntry_Operation(e) == kvOp_Delete);
    kvEntry_Destroy(e);
    kvWatcher_Destroy(w);
    // An empty selection ends at once.
    REQUIRE(kvStore_Watch(&w, kv, "none.*", nullptr) == NATS_OK);
    e = nullptr;
    REQUIRE(kvWatcher_Next(&e, w, 2000) == NATS_OK);
    CHECK(e == nullptr);
    kvWatcher_Destroy(w);
    kvStore_Destroy(kv);
  }
}

TEST_CASE("key-value: values survive kill -9 (forest-server)", "[jetstream][kv][durability]") {
  JsTarget t("forest", "kvcrash");
  REQUIRE(t.ready());
  kvStore* kv = create_bucket(t.js, "DUR", 1);
  REQUIRE(kv != nullptr);
  uint64_t rev = 0;
  for (int i = 0; i < 50; ++i) {
    REQUIRE(kvStore_PutString(&rev, kv, key_name(i % 10).c_str(), std::to_string(i).c_str()) == NATS_OK);
  }
  kvStore_Destroy(kv);
  t.crash_and_restart();
  REQUIRE(t.ready());
  kv = nullptr;
  REQUIRE(js_KeyValue(&kv, t.js, "DUR") == NATS_OK);
  for (int i = 0; i < 10; ++i) CHECK(get(kv, key_name(i).c_str()) == std::to_string(40 + i).append("@").append(std::to_string(41 + i)));
  kvKeysList keys{};
  REQUIRE(kvStore_Keys(&keys, kv, nullptr) == NATS_OK);
  CHECK(keys.Count == 10);
  kvKeysList_Destroy(&keys);
  kvStore_Destroy(kv);
}

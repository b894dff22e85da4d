// Consumers through libnats' JetStream API, against forest-server and nats-server 2.9.10 with
// the same assertions: pull (fetch, acks, AckSync, no messages), push (durable, ordered),
// redelivery (ack wait, nak, term, max deliver and its advisory), work-queue and interest
// retention, filters and deliver policies, headers only; then consumer state across restarts
// (forest-server: kill -9 too).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "js_target.hpp"

using namespace forest::testing;

namespace {

// Both servers, or forest alone under FOREST_SKIP_ORACLE=1 (server_process.hpp).
const std::vector<std::string> kKinds = server_kinds();

// (GCC 12 warns falsely, -Wrestrict, about "literal" + std::string.)
std::string cat(std::string_view prefix, int64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

bool add_stream(jsCtx* js, const char* name, std::vector<const char*> subjects,
                jsRetentionPolicy retention = js_LimitsPolicy, jsStorageType storage = js_FileStorage) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Retention = retention;
  cfg.Storage = storage;
  jsStreamInfo* si = nullptr;
  jsErrCode err{};
  if (js_AddStream(&si, js, &cfg, nullptr, &err) != NATS_OK) return false;
  jsStreamInfo_Destroy(si);
  return true;
}

uint64_t publish(jsCtx* js, const char* subject, const std::string& data) {
  jsPubAck* pa = nullptr;
  jsErrCode err{};
  if (js_Publish(&pa, js, subject, data.data(), static_cast<int>(data.size()), nullptr, &err) != NATS_OK) return 0;
  const uint64_t seq = pa->Sequence;
  jsPubAck_Destroy(pa);
  return seq;
}

std::string data_of(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
}

struct Meta {
  uint64_t sseq = 0, dseq = 0, delivered = 0, pending = 0;
};
Meta meta_of(natsMsg* m) {
  jsMsgMetaData* md = nullptr;
  Meta out;
  if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
    out = Meta{md->Sequence.Stream, md->Sequence.Consumer, md->NumDelivered, md->NumPending};
    jsMsgMetaData_Destroy(md);
  }
  return out;
}

struct ConsumerView {
  bool found = false;
  uint64_t delivered_stream = 0, delivered_consumer = 0, floor_stream = 0, floor_consumer = 0;
  int64_t ack_pending = 0, redelivered = 0;
  uint64_t pending = 0;
};
ConsumerView consumer(jsCtx* js, const char* stream, const char* name) {
  jsConsumerInfo* ci = nullptr;
  jsErrCode err{};
  ConsumerView v;
  if (js_GetConsumerInfo(&ci, js, stream, name, nullptr, &err) != NATS_OK) return v;
  v = ConsumerView{true, ci->Delivered.Stream, ci->Delivered.Consumer, ci->AckFloor.Stream, ci->AckFloor.Consumer,
                   ci->NumAckPending, ci->NumRedelivered, ci->NumPending};
  jsConsumerInfo_Destroy(ci);
  return v;
}

uint64_t stream_msgs(jsCtx* js, const char* stream) {
  jsStreamInfo* si = nullptr;
  jsErrCode err{};
  if (js_GetStreamInfo(&si, js, stream, nullptr, &err) != NATS_OK) return UINT64_MAX;
  const uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

// Fetches up to `batch` messages; the caller owns them.
std::vector<natsMsg*> fetch(natsSubscription* sub, int batch, int64_t timeout_ms, natsStatus* status = nullptr) {
  natsMsgList list{};
  jsErrCode err{};
  const natsStatus s = natsSubscription_Fetch(&list, sub, batch, timeout_ms, &err);
  if (status != nullptr) *status = s;
  std::vector<natsMsg*> out;
  for (int i = 0; i < list.Count; ++i) {
    out.push_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;
  }
  natsMsgList_Destroy(&list);
  return out;
}

void destroy(std::vector<natsMsg*>& msgs) {
  for (natsMsg* m : msgs) natsMsg_Destroy(m);
  msgs.clear();
}

natsSubscription* pull_subscribe(jsCtx* js, const char* subject, const char* durable, jsConsumerConfig* cc = nullptr) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  if (cc != nullptr) so.Config = *cc;
  natsSubscription* sub = nullptr;
  jsErrCode err{};
  if (js_PullSubscribe(&sub, js, subject, durable, nullptr, &so, &err) != NATS_OK) return nullptr;
  return sub;
}

#define EACH_SERVER(tag)                                     \
  for (const std::string& kind : kKinds)                     \
    if (kind == "nats" && !have_reference()) {               \
      WARN("skipped: no " << ServerProcess::nats_binary());  \
    } else

}  // namespace

TEST_CASE("pull consumer: fetch in order, ack and AckSync move the floor, empty fetch times out", "[jetstream][consumers]") {
  EACH_SERVER("pull") {
    INFO("server: " << kind);
    JsTarget t(kind, "pull");
    REQUIRE(t.ready());
    REQUIRE(add_stream(t.js, "ORDERS", {"orders.>"}));
    for (int i = 1; i <= 5; ++i) REQUIRE(publish(t.js, (cat("orders.", i)).c_str(), cat("m", i)) == uint64_t(i));
    natsSubscription* sub = pull_subscribe(t.js, "orders.>", "WORKER");
    REQUIRE(sub != nullptr);
    ConsumerView v = consumer(t.js, "ORDERS", "WORKER");
    REQUIRE(v.found);
    CHECK(v.pending == 5);
    auto msgs = fetch(sub, 10, 1000);
    REQUIRE(msgs.size() == 5);
    for (int i = 0; i < 5; ++i) {
      CHECK(std::string(natsMsg_GetSubject(msgs[i])) == cat("orders.", i + 1));
      CHECK(data_of(msgs[i]) == cat("m", i + 1));
      const Meta md = meta_of(msgs[i]);
      CHECK(md.sseq == uint64_t(i + 1));
      CHECK(md.dseq == uint64_t(i + 1));
      CHECK(md.delivered == 1);
      CHECK(md.pending == uint64_t(4 - i));
    }
    v = consumer(t.js, "ORDERS", "WORKER");
    CHECK(v.delivered_stream == 5);
    CHECK(v.ack_pending == 5);
    CHECK(v.pending == 0);
    // Acks out of order: the floor waits for the gap.
    CHECK(natsMsg_Ack(msgs[1], nullptr) == NATS_OK);
    jsErrCode err{};
    CHECK(natsMsg_AckSync(msgs[2], nullptr, &err) == NATS_OK);
    v = consumer(t.js, "ORDERS", "WORKER");
    CHECK(v.ack_pending == 3);
    CHECK(v.floor_stream == 0);
    CHECK(natsMsg_AckSync(msgs[0], nullptr, &err) == NATS_OK);
    v = consumer(t.js, "ORDERS", "WORKER");
    CHECK(v.floor_stream == 3);
    CHECK(natsMsg_AckSync(msgs[3], nullptr, &err) == NATS_OK);
    CHECK(natsMsg_AckSync(msgs[4], nullptr, &err) == NATS_OK);
    v = consumer(t.js, "ORDERS", "WORKER");
    CHECK(v.floor_stream == 5);
    CHECK(v.floor_consumer == 5);
    CHECK(v.ack_pending == 0);
    destroy(msgs);
    // Nothing left: the fetch times out; a new message arrives in the next fetch.
    natsStatus s = NATS_OK;
    msgs = fetch(sub, 1, 300, &s);
    CHECK(msgs.empty());
    CHECK(s == NATS_TIMEOUT);
    REQUIRE(publish(t.js, "orders.6", "m6") == 6);
    msgs = fetch(sub, 5, 1000);
    REQUIRE(msgs.size() == 1);
    CHECK(data_of(msgs[0]) == "m6");
    CHECK(natsMsg_AckSync(msgs[0], nullptr, &err) == NATS_OK);
    destroy(msgs);
    natsSubscription_Destroy(sub);
  }
}

TEST_CASE("sample_freq: sampled acks publish the ack metric, with every field", "[jetstream][consumers]") {
  EACH_SERVER("sample") {
    INFO("server: " << kind);
    JsTarget t(kind, "sample");
    REQUIRE(t.ready());
    REQUIRE(add_stream(t.js, "SAMPLED", {"sampled.>"}));
    for (int i = 1; i <= 3; ++i) REQUIRE(publish(t.js, "sampled.x", cat("s", i)) == uint64_t(i));
    natsSubscription* metrics = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&metrics, t.nc, "$JS.EVENT.METRIC.CONSUMER.ACK.>") == NATS_OK);
    jsConsumerConfig all;
    jsConsumerConfig_Init(&all);
    all.SampleFrequency = "100%";
    all.AckPolicy = js_AckExplicit;
    natsSubscription* sub = pull_subscribe(t.js, "sampled.>", "EVERY", &all);
    REQUIRE(sub != nullptr);
    jsConsumerConfig none;
    jsConsumerConfig_Init(&none);
    none.SampleFrequency = "0";
    none.AckPolicy = js_AckExplicit;
    natsSubscription* quiet = pull_subscribe(t.js, "sampled.>", "NEVER", &none);
    REQUIRE(quiet != nullptr);
    auto msgs = fetch(sub, 3, 1000);
    REQUIRE(msgs.size() == 3);
    jsErrCode err{};
    for (natsMsg* m : msgs) CHECK(natsMsg_AckSync(m, nullptr, &err) == NATS_OK);
    destroy(msgs);
    msgs = fetch(quiet, 3, 1000);
    REQUIRE(msgs.size() == 3);
    for (natsMsg* m : msgs) CHECK(natsMsg_AckSync(m, nullptr, &err) == NATS_OK);
    destroy(msgs);
    for (int i = 1; i <= 3; ++i) {
      natsMsg* m = nullptr;
      REQUIRE(natsSubscription_NextMsg(&m, metrics, 2000) == NATS_OK);
      CHECK(std::string(natsMsg_GetSubject(m)) == "$JS.EVENT.METRIC.CONSUMER.ACK.SAMPLED.EVERY");
      const std::string json = data_of(m);
      INFO(json);
      CHECK(json.rfind("{\"type\":\"io.nats.jetstream.metric.v1.consumer_ack\",\"id\":\"", 0) == 0);
      CHECK(json.find(cat("\"stream\":\"SAMPLED\",\"consumer\":\"EVERY\",\"consumer_seq\":", i) +
                      cat(",\"stream_seq\":", i) + ",\"ack_time\":") != std::string::npos);
      CHECK(json.find(",\"deliveries\":1}") != std::string::npos);
      natsMsg_Destroy(m);
    }
    natsMsg* extra = nullptr;
    CHECK(natsSubscription_NextMsg(&extra, metrics, 300) == NATS_TIMEOUT);  // none for NEVER
    natsSubscription_Destroy(quiet);
    natsSubscription_Destroy(sub);
    natsSubscription_Destroy(metrics);
  }
}

TEST_CASE("redelivery: ack wait, nak, term, max deliver with its advisory", "[jetstream][consumers]") {
  EACH_SERVER("redeliver") {
    INFO("server: " << kind);
    JsTarget t(kind, "redeliver");
    REQUIRE(t.ready());
    REQUIRE(add_stream(t.js, "JOBS", {"jobs.>"}));
    for (int i = 1; i <= 3; ++i) REQUIRE(publish(t.js, "jobs.x", cat("j", i)) == uint64_t(i));
    natsSubscription* adv = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&adv, t.nc, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.W") == NATS_OK);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "W";
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = 400'000'000;  // 400 ms
    cc.MaxDeliver = 2;
    natsSubscription* sub = pull_subscribe(t.js, "jobs.>", "W", &cc);
    REQUIRE(sub != nullptr);
    auto msgs = fetch(sub, 3, 1000);
    REQUIRE(msgs.size() == 3);
    CHECK(natsMsg_Nak(msgs[0], nullptr) == NATS_OK);  // j1: again at once
    CHECK(natsMsg_Term(msgs[1], nullptr) == NATS_OK);  // j2: never again
    destroy(msgs);                                     // j3: unacked, due after the ack wait
    msgs = fetch(sub, 3, 1000);
    REQUIRE(!msgs.empty());
    CHECK(data_of(msgs[0]) == "j1");
    CHECK(meta_of(msgs[0]).delivered == 2);
    if (msgs.size() == 1) {
      auto more = fetch(sub, 2, 1500);
      msgs.insert(msgs.end(), more.begin(), more.end());
    }
    REQUIRE(msgs.size() == 2);
    CHECK(data_of(msgs[1]) == "j3");
    CHECK(meta_of(msgs[1]).delivered == 2);
    destroy(msgs);
    // Both reached max_deliver: after another ack wait nothing comes, two advisories do.
    natsStatus s = NATS_OK;
    msgs = fetch(sub, 3, 1200, &s);
    CHECK(msgs.empty());
    destroy(msgs);
    natsMsg* a = nullptr;
    REQUIRE(natsSubscription_NextMsg(&a, adv, 2000) == NATS_OK);
    const std::string advisory = data_of(a);
    CHECK(advisory.find("\"type\":\"io.nats.jetstream.advisory.v1.max_deliver\"") != std::string::npos);
    CHECK(advisory.find("\"stream\":\"JOBS\"") != std::string::npos);
    CHECK(advisory.find("\"consumer\":\"W\"") != std::string::npos);
    CHECK(advisory.find("\"deliveries\":2") != std::string::npos);
    natsMsg_Destroy(a);
    natsSubscription_Destroy(adv);
    natsSubscription_Destroy(sub);
  }
}

TEST_CASE("push consumers: durable with explicit acks, ordered, deliver last per subject, headers only",
          "[jetstream][consumers]") {
  EACH_SERVER("push") {
    INFO("server: " << kind);
    JsTarget t(kind, "push");
    REQUIRE(t.ready());
    REQUIRE(add_stream(t.js, "EV", {"ev.>"}));
    REQUIRE(publish(t.js, "ev.a", "a1") == 1);
    REQUIRE(publish(t.js, "ev.b", "b1") == 2);
    REQUIRE(publish(t.js, "ev.a", "a2") == 3);
    {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Config.Durable = "PUSHER";
      so.Config.AckPolicy = js_AckExplicit;
      so.ManualAck = true;
      natsSubscription* sub = nullptr;
      jsErrCode err{};
      REQUIRE(js_SubscribeSync(&sub, t.js, "ev.>", nullptr, &so, &err) == NATS_OK);
      for (const char* want : {"a1", "b1", "a2"}) {
        natsMsg* m = nullptr;
        REQUIRE(natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK);
        CHECK(data_of(m) == want);
        CHECK(natsMsg_AckSync(m, nullptr, &err) == NATS_OK);
        natsMsg_Destroy(m);
      }
      REQUIRE(publish(t.js, "ev.b", "b2") == 4);
      natsMsg* m = nullptr;
      REQUIRE(natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK);
      CHECK(std::string(natsMsg_GetSubject(m)) == "ev.b");
      CHECK(data_of(m) == "b2");
      CHECK(natsMsg_AckSync(m, nullptr, &err) == NATS_OK);
      natsMsg_Destroy(m);
      const ConsumerView v = consumer(t.js, "EV", "PUSHER");
      CHECK(v.floor_stream == 4);
      CHECK(v.ack_pending == 0);
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    {
      // Ordered: ephemeral, flow control and heartbeats, everything in stream order.
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Ordered = true;
      natsSubscription* sub = nullptr;
      jsErrCode err{};
      REQUIRE(js_SubscribeSync(&sub, t.js, "ev.>", nullptr, &so, &err) == NATS_OK);
      for (const char* want : {"a1", "b1", "a2", "b2"}) {
        natsMsg* m = nullptr;
        REQUIRE(natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK);
        CHECK(data_of(m) == want);
        natsMsg_Destroy(m);
      }
      natsSubscription_Destroy(sub);
    }
    {
      // Last per subject, headers only: the latest of each subject, sizes instead of data.
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Config.DeliverPolicy = js_DeliverLastPerSubject;
      so.Config.HeadersOnly = true;
      so.Config.AckPolicy = js_AckNone;
      natsSubscription* sub = nullptr;
      jsErrCode err{};
      REQUIRE(js_SubscribeSync(&sub, t.js, "ev.>", nullptr, &so, &err) == NATS_OK);
      std::vector<std::string> got;
      for (int i = 0; i < 2; ++i) {
        natsMsg* m = nullptr;
        REQUIRE(natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK);
        const char* size = nullptr;
        REQUIRE(natsMsgHeader_Get(m, "Nats-Msg-Size", &size) == NATS_OK);
        got.push_back(std::string(natsMsg_GetSubject(m)) + "=" + size + "/" + std::to_string(natsMsg_GetDataLength(m)) +
                      "@" + std::to_string(meta_of(m).sseq));
        natsMsg_Destroy(m);
      }
      CHECK(got == std::vector<std::string>{"ev.a=2/0@3", "ev.b=2/0@4"});
      natsSubscription_Destroy(sub);
    }
  }
}

TEST_CASE("retention: work queue removes acknowledged messages, interest waits for every consumer",
          "[jetstream][consumers]") {
  EACH_SERVER("retention") {
    INFO("server: " << kind);
    JsTarget t(kind, "retention");
    REQUIRE(t.ready());
    REQUIRE(add_stream(t.js, "WQ", {"wq.>"}, js_WorkQueuePolicy));
    for (int i = 0; i < 4; ++i) REQUIRE(publish(t.js, "wq.job", "w") > 0);
    natsSubscription* sub = pull_subscribe(t.js, "wq.>", "WQW");
    REQUIRE(sub != nullptr);
    // A second unfiltered consumer is refused on a work queue.
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "OTHER";
    cc.AckPolicy = js_AckExplicit;
    jsConsumerInfo* ci = nullptr;
    jsErrCode err{};
    CHECK(js_AddConsumer(&ci, t.js, "WQ", &cc, nullptr, &err) != NATS_OK);
    CHECK(err == JSConsumerWQMultipleUnfilteredErr);
    auto msgs = fetch(sub, 4, 1000);
    REQUIRE(msgs.size() == 4);
    for (int i = 0; i < 3; ++i) CHECK(natsMsg_AckSync(msgs[i], nullptr, &err) == NATS_OK);
    CHECK(stream_msgs(t.js, "WQ") == 1);
    destroy(msgs);
    natsSubscription_Destroy(sub);

    REQUIRE(add_stream(t.js, "INT", {"int.>"}, js_InterestPolicy));
    natsSubscription* s1 = pull_subscribe(t.js, "int.>", "C1");
    natsSubscription* s2 = pull_subscribe(t.js, "int.>", "C2");
    REQUIRE(s1 != nullptr);
    REQUIRE(s2 != nullptr);
    REQUIRE(publish(t.js, "int.x", "i1") == 1);
    REQUIRE(publish(t.js, "int.x", "i2") == 2);
    auto m1 = fetch(s1, 2, 1000);
    auto m2 = fetch(s2, 2, 1000);
    REQUIRE(m1.size() == 2);
    REQUIRE(m2.size() == 2);
    CHECK(natsMsg_AckSync(m1[0], nullptr, &err) == NATS_OK);
    CHECK(natsMsg_AckSync(m1[1], nullptr, &err) == NATS_OK);
    CHECK(stream_msgs(t.js, "INT") == 2);  // C2 has not acknowledged yet
    CHECK(natsMsg_AckSync(m2[0], nullptr, &err) == NATS_OK);
    CHECK(stream_msgs(t.js, "INT") == 1);
    CHECK(natsMsg_AckSync(m2[1], nullptr, &err) == NATS_OK);
    CHECK(stream_msgs(t.js, "INT") == 0);
    destroy(m1);
    destroy(m2);
    natsSubscription_Destroy(s1);
    natsSubscription_Destroy(s2);
  }
}

TEST_CASE("consumer API: info, names, list, delete, filter in the subject, errors as nats-server", "[jetstream][consumers]") {
  EACH_SERVER("capi") {
    INFO("server: " << kind);
    JsTarget t(kind, "capi");
    REQUIRE(t.ready());
    natsSubscription* adv = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&adv, t.nc, "$JS.EVENT.ADVISORY.>") == NATS_OK);
    REQUIRE(natsConnection_Flush(t.nc) == NATS_OK);
    REQUIRE(add_stream(t.js, "S", {"s.>"}));
    REQUIRE(publish(t.js, "s.a", "1") == 1);
    REQUIRE(publish(t.js, "s.b", "2") == 2);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "ONLY_B";
    cc.AckPolicy = js_AckExplicit;
    cc.FilterSubject = "s.b";
    jsConsumerInfo* ci = nullptr;
    jsErrCode err{};
    REQUIRE(js_AddConsumer(&ci, t.js, "S", &cc, nullptr, &err) == NATS_OK);
    CHECK(ci->NumPending == 1);
    CHECK(std::string(ci->Config->FilterSubject) == "s.b");
    jsConsumerInfo_Destroy(ci);
    // The same config again is the same consumer; a changed deliver policy is refused.
    REQUIRE(js_AddConsumer(&ci, t.js, "S", &cc, nullptr, &err) == NATS_OK);
    jsConsumerInfo_Destroy(ci);
    cc.DeliverPolicy = js_DeliverNew;
    CHECK(js_AddConsumer(&ci, t.js, "S", &cc, nullptr, &err) != NATS_OK);
    CHECK(err == JSConsumerCreateErr);
    CHECK(js_AddConsumer(&ci, t.js, "NOPE", &cc, nullptr, &err) != NATS_OK);
    CHECK(err == JSStreamNotFoundErr);
    jsConsumerNamesList* names = nullptr;
    REQUIRE(js_ConsumerNames(&names, t.js, "S", nullptr, &err) == NATS_OK);
    REQUIRE(names->Count == 1);
    CHECK(std::string(names->List[0]) == "ONLY_B");
    jsConsumerNamesList_Destroy(names);
    CHECK(js_GetConsumerInfo(&ci, t.js, "S", "MISSING", nullptr, &err) != NATS_OK);
    CHECK(err == JSConsumerNotFoundErr);
    CHECK(js_DeleteConsumer(t.js, "S", "ONLY_B", nullptr, &err) == NATS_OK);
    CHECK(js_DeleteConsumer(t.js, "S", "ONLY_B", nullptr, &err) != NATS_OK);
    CHECK(err == JSConsumerNotFoundErr);
    CHECK_FALSE(consumer(t.js, "S", "ONLY_B").found);
    // The action advisories, in order (API audit advisories nats-server also sends are skipped).
    std::vector<std::string> actions;
    for (natsMsg* a = nullptr; natsSubscription_NextMsg(&a, adv, 500) == NATS_OK; a = nullptr) {
      const std::string subject = natsMsg_GetSubject(a);
      if (subject != "$JS.EVENT.ADVISORY.API") {
        const std::string body = data_of(a);
        CHECK(body.find("_action\"") != std::string::npos);
        actions.push_back(subject);
      }
      natsMsg_Destroy(a);
    }
    CHECK(actions == std::vector<std::string>{"$JS.EVENT.ADVISORY.STREAM.CREATED.S", "$JS.EVENT.ADVISORY.CONSUMER.CREATED.S.ONLY_B",
                                              "$JS.EVENT.ADVISORY.CONSUMER.DELETED.S.ONLY_B"});
    natsSubscription_Destroy(adv);
  }
}

TEST_CASE("consumer state survives a restart and kill -9 (forest-server)", "[jetstream][consumers][durability]") {
  JsTarget t("forest", "crestart");
  REQUIRE(t.ready());
  REQUIRE(add_stream(t.js, "D", {"d.>"}));
  for (int i = 1; i <= 4; ++i) REQUIRE(publish(t.js, "d.x", cat("v", i)) == uint64_t(i));
  {
    natsSubscription* sub = pull_subscribe(t.js, "d.>", "DUR");
    REQUIRE(sub != nullptr);
    auto msgs = fetch(sub, 3, 1000);
    REQUIRE(msgs.size() == 3);
    jsErrCode err{};
    CHECK(natsMsg_AckSync(msgs[0], nullptr, &err) == NATS_OK);
    CHECK(natsMsg_AckSync(msgs[1], nullptr, &err) == NATS_OK);
    destroy(msgs);
    natsSubscription_Destroy(sub);
  }
  t.crash_and_restart();
  REQUIRE(t.ready());
  ConsumerView v = consumer(t.js, "D", "DUR");
  REQUIRE(v.found);
  CHECK(v.floor_stream == 2);
  CHECK(v.ack_pending == 1);
  CHECK(v.delivered_stream >= 3);
  {
    // Binding again: the unacknowledged one comes back after its ack wait, then the fourth.
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "D";
    so.Consumer = "DUR";
    natsSubscription* sub = nullptr;
    jsErrCode err{};
    REQUIRE(js_PullSubscribe(&sub, t.js, "d.>", "DUR", nullptr, &so, &err) == NATS_OK);
    auto msgs = fetch(sub, 1, 1000);
    REQUIRE(msgs.size() == 1);
    CHECK(data_of(msgs[0]) == "v4");
    CHECK(natsMsg_AckSync(msgs[0], nullptr, &err) == NATS_OK);
    destroy(msgs);
    natsSubscription_Destroy(sub);
  }
  t.crash_and_restart();
  REQUIRE(t.ready());
  v = consumer(t.js, "D", "DUR");
  CHECK(v.ack_pending == 1);  // v3, still unacknowledged
  CHECK(v.delivered_stream == 4);
}

TEST_CASE("bulk: 20000 messages through a push consumer with flow control and a pull consumer, each once, in order",
          "[jetstream][consumers][bulk]") {
  EACH_SERVER("bulk") {
    INFO("server: " << kind);
    JsTarget t(kind, "bulk");
    REQUIRE(t.ready());
    REQUIRE(add_stream(t.js, "BULK", {"bulk.>"}));
    constexpr int kMsgs = 20000;
    const std::string payload(200, 'x');  // 4 MB in all: flow control requests happen
    jsPubOptions po;
    jsPubOptions_Init(&po);
    jsErrCode err{};
    for (int i = 0; i < kMsgs; ++i) {
      REQUIRE(js_PublishAsync(t.js, "bulk.x", payload.data(), static_cast<int>(payload.size()), &po) == NATS_OK);
    }
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    REQUIRE(js_PublishAsyncComplete(t.js, &po) == NATS_OK);
    REQUIRE(stream_msgs(t.js, "BULK") == uint64_t(kMsgs));
    {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Config.Durable = "PUSHB";
      so.Config.AckPolicy = js_AckExplicit;
      so.Config.MaxAckPending = 1024;
      so.Config.FlowControl = true;
      so.Config.Heartbeat = 1'000'000'000;
      so.ManualAck = true;
      natsSubscription* sub = nullptr;
      REQUIRE(js_SubscribeSync(&sub, t.js, "bulk.>", nullptr, &so, &err) == NATS_OK);
      uint64_t expected = 1;
      bool in_order = true;
      int got = 0;
      for (; got < kMsgs; ++got) {
        natsMsg* m = nullptr;
        if (natsSubscription_NextMsg(&m, sub, 3000) != NATS_OK) break;
        in_order = in_order && meta_of(m).sseq == expected++;
        natsMsg_Ack(m, nullptr);
        natsMsg_Destroy(m);
      }
      CHECK(got == kMsgs);
      CHECK(in_order);
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    {
      natsSubscription* sub = pull_subscribe(t.js, "bulk.>", "PULLB");
      REQUIRE(sub != nullptr);
      uint64_t expected = 1;
      bool in_order = true;
      int got = 0;
      while (got < kMsgs) {
        auto msgs = fetch(sub, 256, 3000);
        if (msgs.empty()) break;
        for (natsMsg* m : msgs) {
          in_order = in_order && meta_of(m).sseq == expected++;
          natsMsg_Ack(m, nullptr);
        }
        got += static_cast<int>(msgs.size());
        destroy(msgs);
      }
      CHECK(got == kMsgs);
      CHECK(in_order);
      natsSubscription_Destroy(sub);
    }
  }
}

TEST_CASE("hostile consumer input: extreme durations, bad requests and bad acks leave the server serving",
          "[jetstream][consumers][hostile]") {
  EACH_SERVER("hostile") {
    INFO("server: " << kind);
    JsTarget t(kind, "chostile");
    REQUIRE(t.ready());
    REQUIRE(add_stream(t.js, "H", {"h.>"}));
    REQUIRE(publish(t.js, "h.x", "1") == 1);
    const std::string huge = "9223372036854775807";
    (void)t.request("$JS.API.CONSUMER.DURABLE.CREATE.H.P",
                    R"({"stream_name":"H","config":{"durable_name":"P","ack_policy":"explicit","ack_wait":)" + huge +
                        R"(,"inactive_threshold":)" + huge + R"(,"max_deliver":5,"backoff":[)" + huge + "," + huge + "]}}");
    (void)t.request("$JS.API.CONSUMER.DURABLE.CREATE.H.Q",
                    R"({"stream_name":"H","config":{"durable_name":"Q","ack_policy":"explicit","ack_wait":-1,"max_ack_pending":-7}})");
    for (const std::string& body : {std::string(R"({"batch":-5,"expires":)") + huge + "}",
                                    std::string(R"({"batch":99999999999,"no_wait":true})"),
                                    std::string(R"({"idle_heartbeat":)") + huge + R"(,"expires":)" + huge + "}",
                                    std::string(R"({"max_bytes":-1,"expires":-1})"), std::string("garbage"),
                                    std::string("{"), std::string("-3")}) {
      natsConnection_PublishRequestString(t.nc, "$JS.API.CONSUMER.MSG.NEXT.H.P", "_INBOX.hostile", body.c_str());
      natsConnection_PublishRequestString(t.nc, "$JS.API.CONSUMER.MSG.NEXT.H.Q", "_INBOX.hostile", body.c_str());
    }
    for (const char* subject : {"$JS.ACK.H.P.x.y.z.1.2", "$JS.ACK.H.P.1.1.1.1.1.1", "$JS.ACK.H.P.1.999.999.0.0",
                                "$JS.ACK.H.P.1.1.1.1.0", "$JS.ACK.H.NOPE.1.1.1.1.0"}) {
      for (const char* body : {"+ACK", "-NAK 99999999999h", "-NAK {\"delay\":-5}", "-NAK {\"delay\":9223372036854775807}",
                               "+WPI", "+TERM", "+NXT {\"batch\":-1}", "+NXT garbage", "whatever"}) {
        natsConnection_PublishString(t.nc, subject, body);
      }
    }
    REQUIRE(natsConnection_Flush(t.nc) == NATS_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::string info = t.request("$JS.API.INFO");
    CHECK(info.find("\"type\":\"io.nats.jetstream.api.v1.account_info_response\"") != std::string::npos);
    CHECK(publish(t.js, "h.x", "2") == 2);
    CHECK(t.server->running());
  }
}

TEST_CASE("republish: stored messages are copied to the mapped subject with the stream headers",
          "[jetstream][republish]") {
  EACH_SERVER("republish") {
    INFO("server: " << kind);
    JsTarget t(kind, "repub");
    REQUIRE(t.ready());
    natsSubscription* copies = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&copies, t.nc, "copy.>") == NATS_OK);
    REQUIRE(natsConnection_Flush(t.nc) == NATS_OK);
    const std::string created = t.request(
        "$JS.API.STREAM.CREATE.R", R"({"name":"R","subjects":["orders.*.*"],"republish":{"src":"orders.*.>","dest":"copy.{{wildcard(1)}}.>"}})");
    REQUIRE(created.find("\"republish\":{\"src\":\"orders.*.\\u003e\"") != std::string::npos);
    REQUIRE(publish(t.js, "orders.eu.new", "a") == 1);
    REQUIRE(publish(t.js, "orders.us.new", "b") == 2);
    REQUIRE(publish(t.js, "orders.eu.new", "c") == 3);
    natsMsg* hm = nullptr;
    REQUIRE(natsMsg_Create(&hm, "orders.eu.old", nullptr, "d", 1) == NATS_OK);
    natsMsgHeader_Set(hm, "X-Mine", "yes");
    jsPubAck* pa = nullptr;
    jsErrCode err{};
    REQUIRE(js_PublishMsg(&pa, t.js, hm, nullptr, &err) == NATS_OK);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(hm);
    struct Want {
      const char* subject;
      const char* data;
      const char* seq;
      const char* last;
    };
    for (const Want& w : {Want{"copy.eu.new", "a", "1", "0"}, Want{"copy.us.new", "b", "2", "0"},
                          Want{"copy.eu.new", "c", "3", "1"}, Want{"copy.eu.old", "d", "4", "0"}}) {
      natsMsg* m = nullptr;
      REQUIRE(natsSubscription_NextMsg(&m, copies, 2000) == NATS_OK);
      CHECK(std::string(natsMsg_GetSubject(m)) == w.subject);
      CHECK(data_of(m) == w.data);
      const char* v = nullptr;
      REQUIRE(natsMsgHeader_Get(m, "Nats-Stream", &v) == NATS_OK);
      CHECK(std::string(v) == "R");
      REQUIRE(natsMsgHeader_Get(m, "Nats-Sequence", &v) == NATS_OK);
      CHECK(std::string(v) == w.seq);
      REQUIRE(natsMsgHeader_Get(m, "Nats-Last-Sequence", &v) == NATS_OK);
      CHECK(std::string(v) == w.last);
      REQUIRE(natsMsgHeader_Get(m, "Nats-Subject", &v) == NATS_OK);
      CHECK(std::string(v).rfind("orders.", 0) == 0);
      if (std::string(w.data) == "d") {
        REQUIRE(natsMsgHeader_Get(m, "X-Mine", &v) == NATS_OK);
        CHECK(std::string(v) == "yes");
      }
      natsMsg_Destroy(m);
    }
    // A transform nats-server refuses is refused.
    const std::string bad = t.request("$JS.API.STREAM.CREATE.B", R"({"name":"B","subjects":["b.*"],"republish":{"src":"b.*","dest":"c.$2"}})");
    CHECK(bad.find("\"err_code\":10052") != std::string::npos);
    natsSubscription_Destroy(copies);
  }
}

TEST_CASE("replay original keeps the stored gaps; rate_limit_bps paces deliveries", "[jetstream][consumers][replay]") {
  EACH_SERVER("replay") {
    INFO("server: " << kind);
    JsTarget t(kind, "replay");
    REQUIRE(t.ready());
    REQUIRE(add_stream(t.js, "RP", {"rp.>"}));
    for (int i = 0; i < 3; ++i) {
      REQUIRE(publish(t.js, "rp.x", cat("m", i)) == uint64_t(i + 1));
      if (i < 2) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    auto receive_all = [&](jsSubOptions& so, int n) {
      natsSubscription* sub = nullptr;
      jsErrCode err{};
      REQUIRE(js_SubscribeSync(&sub, t.js, "rp.>", nullptr, &so, &err) == NATS_OK);
      const auto start = std::chrono::steady_clock::now();
      int got = 0;
      for (; got < n; ++got) {
        natsMsg* m = nullptr;
        if (natsSubscription_NextMsg(&m, sub, 5000) != NATS_OK) break;
        natsMsg_Destroy(m);
      }
      CHECK(got == n);
      natsSubscription_Destroy(sub);
      return std::chrono::steady_clock::now() - start;
    };
    {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Config.ReplayPolicy = js_ReplayOriginal;
      so.Config.AckPolicy = js_AckNone;
      // Two gaps of 300 ms were stored: the replay takes at least most of them (lower bound
      // only: a slow machine makes it longer, never shorter).
      CHECK(receive_all(so, 3) >= std::chrono::milliseconds(450));
    }
    {
      // A rate limit lets a burst of the server's max_payload through at once (nats-server's
      // limiter): three small messages come without waiting, and all of them come.
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Config.AckPolicy = js_AckNone;
      so.Config.RateLimit = 800;
      (void)receive_all(so, 3);
    }
  }
}

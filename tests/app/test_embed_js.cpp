// The JetStream client of libforest (forest::JetStream, forest::KeyValue) on a server embedded
// in the test process: every call with its error paths, compared with what libnats sees on
// the same server's TCP port where that helps, and a restart on the same data dir.
#include <catch2/catch.hpp>
#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <forest/jetstream.hpp>
#include <forest/server.hpp>

#include "embed_support.hpp"

using namespace std::chrono_literals;

namespace {

using forest::testing::scratch_dir;

// JetStream in `dir`, and a client port for the libnats comparisons.
forest::Config js_config(const std::filesystem::path& dir) {
  forest::Config c = forest::testing::quiet_config(dir);
  c.client_port = 0;
  return c;
}

// A started server with one in-process connection and its JetStream.
struct Fixture {
  std::filesystem::path dir;
  forest::Server server;
  std::unique_ptr<forest::Connection> conn;
  std::unique_ptr<forest::JetStream> js;

  explicit Fixture(const std::string& name, bool keep_dir = false)
      : dir(keep_dir ? std::filesystem::temp_directory_path() / ("forest-embed-js-" + name + "-" + std::to_string(::getpid()))
                     : scratch_dir("js-" + name)),
        server(js_config(dir)) {
    auto started = server.start();
    REQUIRE(started);
    auto c = server.connect({.name = "js-test"});
    REQUIRE(c);
    conn = std::move(*c);
    js = std::make_unique<forest::JetStream>(*conn);
  }
};

struct NatsJs {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  explicit NatsJs(const std::string& url) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url.c_str());
    natsOptions_SetAllowReconnect(o, false);
    natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (nc != nullptr) natsConnection_JetStream(&js, nc, nullptr);
  }
  ~NatsJs() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
};

// What a watch handler collected, waited for from the test thread.
struct Collected {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<forest::KvEntry> entries;
  int initial_done = 0;
  std::size_t entries_at_initial_done = 0;

  void add(const forest::KvEntry& e) {
    std::lock_guard lock(mu);
    entries.push_back(e);
    cv.notify_all();
  }
  void done() {
    std::lock_guard lock(mu);
    ++initial_done;
    entries_at_initial_done = entries.size();
    cv.notify_all();
  }
  bool wait(std::size_t n, bool need_done = true) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 5s, [&] { return entries.size() >= n && (!need_done || initial_done > 0); });
  }
};

}  // namespace

TEST_CASE("ack subjects: both forms, and what is not one", "[embed-js]") {
  auto v1 = forest::parse_ack_subject("$JS.ACK.ORDERS.dur.2.10.7.1700000000123456789.5");
  REQUIRE(v1);
  CHECK(v1->stream == "ORDERS");
  CHECK(v1->consumer == "dur");
  CHECK(v1->num_delivered == 2);
  CHECK(v1->stream_seq == 10);
  CHECK(v1->consumer_seq == 7);
  CHECK(v1->num_pending == 5);
  CHECK(v1->domain.empty());
  CHECK(std::chrono::duration_cast<std::chrono::nanoseconds>(v1->timestamp.time_since_epoch()).count() ==
        1700000000123456789);
  auto v2 = forest::parse_ack_subject("$JS.ACK.hub.ACCHASH.ORDERS.dur.1.3.4.1700000000000000000.0.rnd");
  REQUIRE(v2);
  CHECK(v2->domain == "hub");
  CHECK(v2->stream == "ORDERS");
  CHECK(v2->stream_seq == 3);
  CHECK(v2->consumer_seq == 4);
  auto v2_11 = forest::parse_ack_subject("$JS.ACK._.ACCHASH.S.c.1.3.4.1700000000000000000.9");
  REQUIRE(v2_11);
  CHECK(v2_11->domain.empty());
  CHECK(v2_11->num_pending == 9);
  CHECK_FALSE(forest::parse_ack_subject("$JS.ACK.S.c.1.3.4.5"));              // 8 tokens
  CHECK_FALSE(forest::parse_ack_subject("$JS.ACK.d.h.S.c.1.3.4.5"));          // 10 tokens
  CHECK_FALSE(forest::parse_ack_subject("$JS.NAK.S.c.1.3.4.1700000000.0"));   // not ACK
  CHECK_FALSE(forest::parse_ack_subject("$JS.ACK.S.c.x.3.4.1700000000.0"));   // not a number
}

TEST_CASE("streams: add, info, update, publish with ack and its errors, purge, delete", "[embed-js]") {
  Fixture f("streams");
  auto& js = *f.js;

  auto missing = js.stream_info("NOPE");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().api_code == 10059);
  CHECK(missing.error().status == 404);

  auto added = js.add_stream({.name = "ORDERS", .subjects = {"orders.>"}, .storage = forest::StorageType::file,
                              .max_msgs = 100, .max_age = 1h, .duplicate_window = 30s});
  REQUIRE(added);
  CHECK(added->config.name == "ORDERS");
  CHECK(added->config.subjects == std::vector<std::string>{"orders.>"});
  CHECK(added->config.max_msgs == 100);
  CHECK(added->config.max_age == 1h);
  CHECK(added->config.duplicate_window == 30s);
  CHECK(added->config.retention == forest::Retention::limits);
  CHECK(added->state.messages == 0);

  // The same name with other subjects: nats-server's 10058 (name already in use).
  auto clash = js.add_stream({.name = "ORDERS", .subjects = {"other.>"}});
  REQUIRE_FALSE(clash);
  CHECK(clash.error().api_code == 10058);

  auto a1 = js.publish("orders.new", "one", {.msg_id = "m-1"});
  REQUIRE(a1);
  CHECK(a1->stream == "ORDERS");
  CHECK(a1->seq == 1);
  CHECK_FALSE(a1->duplicate);
  auto dup = js.publish("orders.new", "one again", {.msg_id = "m-1"});
  REQUIRE(dup);
  CHECK(dup->seq == 1);
  CHECK(dup->duplicate);
  auto a2 = js.publish("orders.paid", "two", {.expected_stream = "ORDERS", .expected_last_seq = 1});
  REQUIRE(a2);
  CHECK(a2->seq == 2);

  auto wrong_last = js.publish("orders.new", "x", {.expected_last_seq = 1});
  REQUIRE_FALSE(wrong_last);
  CHECK(wrong_last.error().api_code == 10071);
  auto wrong_subject_last = js.publish("orders.new", "x", {.expected_last_subject_seq = 2});
  REQUIRE_FALSE(wrong_subject_last);
  CHECK(wrong_subject_last.error().api_code == 10071);
  auto wrong_stream = js.publish("orders.new", "x", {.expected_stream = "OTHER"});
  REQUIRE_FALSE(wrong_stream);
  CHECK(wrong_stream.error().api_code == 10060);
  auto right_subject_last =
      js.publish("orders.new", "three", {.expected_last_subject_seq = 1, .headers = forest::Headers().add("X-A", "b").block()});
  REQUIRE(right_subject_last);
  CHECK(right_subject_last->seq == 3);

  auto nobody = js.publish("nowhere.at.all", "x");
  REQUIRE_FALSE(nobody);
  CHECK(nobody.error().status == 503);

  auto info = js.stream_info("ORDERS");
  REQUIRE(info);
  CHECK(info->state.messages == 3);
  CHECK(info->state.first_seq == 1);
  CHECK(info->state.last_seq == 3);
  CHECK(info->state.bytes > 0);
  CHECK(info->json.find("\"type\":\"io.nats.jetstream.api.v1.stream_info_response\"") != std::string::npos);

  // libnats on the TCP port sees the same stream.
  NatsJs tcp(f.server.client_url());
  REQUIRE(tcp.js != nullptr);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  REQUIRE(js_GetStreamInfo(&si, tcp.js, "ORDERS", nullptr, &jerr) == NATS_OK);
  CHECK(si->State.Msgs == info->state.messages);
  CHECK(si->State.Bytes == info->state.bytes);
  CHECK(si->State.LastSeq == info->state.last_seq);
  CHECK(si->Config->MaxMsgs == 100);
  CHECK(si->Config->Duplicates == 30'000'000'000LL);
  jsStreamInfo_Destroy(si);

  auto updated = js.update_stream({.name = "ORDERS", .subjects = {"orders.>", "returns.*"}, .max_msgs = 200,
                                   .max_age = 1h, .duplicate_window = 30s});
  REQUIRE(updated);
  CHECK(updated->config.max_msgs == 200);
  CHECK(updated->config.subjects.size() == 2);
  CHECK(updated->state.messages == 3);
  auto update_missing = js.update_stream({.name = "NOPE", .subjects = {"nope"}});
  REQUIRE_FALSE(update_missing);
  CHECK(update_missing.error().api_code == 10059);

  auto purged = js.purge_stream("ORDERS");
  REQUIRE(purged);
  CHECK(*purged == 3);
  auto after = js.stream_info("ORDERS");
  REQUIRE(after);
  CHECK(after->state.messages == 0);
  CHECK(after->state.first_seq == 4);

  REQUIRE(js.delete_stream("ORDERS"));
  auto gone = js.stream_info("ORDERS");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().api_code == 10059);
  auto delete_again = js.delete_stream("ORDERS");
  REQUIRE_FALSE(delete_again);
  CHECK(delete_again.error().api_code == 10059);
  CHECK_FALSE(js.stream_info("bad.name"));  // refused before a request
}

TEST_CASE("without JetStream every call is no responders", "[embed-js]") {
  forest::Config c = js_config({});
  c.data_dir.clear();
  forest::Server server(c);
  REQUIRE(server.start());
  auto conn = server.connect();
  REQUIRE(conn);
  forest::JetStream js(**conn, "$JS.API", 2s);
  auto info = js.stream_info("S");
  REQUIRE_FALSE(info);
  CHECK(info.error().status == 503);
  auto fetched = js.fetch("S", "c", 1, 500ms);
  REQUIRE_FALSE(fetched);
  CHECK(fetched.error().status == 503);
}

TEST_CASE("consumers: durable and ephemeral, info, delete, not found", "[embed-js]") {
  Fixture f("consumers");
  auto& js = *f.js;
  REQUIRE(js.add_stream({.name = "EV", .subjects = {"ev.>"}}));
  for (int i = 0; i < 3; ++i) REQUIRE(js.publish("ev.a", "x"));

  auto no_stream = js.add_consumer("NOPE", {.durable_name = "d"});
  REQUIRE_FALSE(no_stream);
  CHECK(no_stream.error().api_code == 10059);

  auto durable = js.add_consumer("EV", {.durable_name = "worker", .filter_subject = "ev.>",
                                        .deliver_policy = forest::DeliverPolicy::by_start_sequence, .opt_start_seq = 2,
                                        .ack_wait = 10s, .max_deliver = 5, .backoff = {1s, 2s},
                                        .max_ack_pending = 50});
  REQUIRE(durable);
  CHECK(durable->name == "worker");
  CHECK(durable->stream == "EV");
  CHECK(durable->config.durable_name == "worker");
  CHECK(durable->config.deliver_policy == forest::DeliverPolicy::by_start_sequence);
  CHECK(durable->config.opt_start_seq == 2);
  CHECK(durable->config.ack_wait == 1s);  // nats-server: with a backoff, ack_wait is its first step
  CHECK(durable->config.max_deliver == 5);
  CHECK(durable->config.backoff == std::vector<std::chrono::nanoseconds>{1s, 2s});
  CHECK(durable->config.max_ack_pending == 50);
  CHECK(durable->num_pending == 2);

  auto info = js.consumer_info("EV", "worker");
  REQUIRE(info);
  CHECK(info->config.filter_subject == "ev.>");
  CHECK(info->num_pending == 2);

  // libnats sees the same consumer.
  NatsJs tcp(f.server.client_url());
  REQUIRE(tcp.js != nullptr);
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  REQUIRE(js_GetConsumerInfo(&ci, tcp.js, "EV", "worker", nullptr, &jerr) == NATS_OK);
  CHECK(ci->NumPending == info->num_pending);
  CHECK(std::string(ci->Config->Durable) == "worker");
  CHECK(ci->Config->MaxAckPending == 50);
  jsConsumerInfo_Destroy(ci);

  auto ephemeral = js.add_consumer("EV", {.ack_policy = forest::AckPolicy::none, .inactive_threshold = 30s});
  REQUIRE(ephemeral);
  CHECK_FALSE(ephemeral->name.empty());
  CHECK(ephemeral->config.durable_name.empty());
  CHECK(ephemeral->config.ack_policy == forest::AckPolicy::none);
  CHECK(ephemeral->num_pending == 3);
  auto stream = js.stream_info("EV");
  REQUIRE(stream);
  CHECK(stream->state.consumer_count == 2);

  REQUIRE(js.delete_consumer("EV", ephemeral->name));
  auto gone = js.consumer_info("EV", ephemeral->name);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().api_code == 10014);
  auto delete_again = js.delete_consumer("EV", ephemeral->name);
  REQUIRE_FALSE(delete_again);
  CHECK(delete_again.error().api_code == 10014);
  auto not_found = js.consumer_info("EV", "nobody");
  REQUIRE_FALSE(not_found);
  CHECK(not_found.error().api_code == 10014);
  CHECK_FALSE(js.add_consumer("EV", {.durable_name = "a.b"}));  // not one subject token
}

TEST_CASE("pull fetch: batches, metadata, ack_sync, nak redelivery, term, timeout", "[embed-js]") {
  Fixture f("fetch");
  auto& js = *f.js;
  REQUIRE(js.add_stream({.name = "JOBS", .subjects = {"jobs.*"}}));
  REQUIRE(js.add_consumer("JOBS", {.durable_name = "w", .ack_wait = 30s}));

  // Nothing pending: the request expires, the result is empty, not an error.
  auto none = js.fetch("JOBS", "w", 5, 300ms);
  REQUIRE(none);
  CHECK(none->empty());
  // A consumer that does not exist: its error, not an empty batch.
  auto no_consumer = js.fetch("JOBS", "nobody", 1, 300ms);
  REQUIRE_FALSE(no_consumer);
  CHECK(no_consumer.error().api_code == 10014);

  for (int i = 1; i <= 4; ++i) {
    forest::PublishOptions o{.headers = forest::Headers().add("X-N", std::to_string(i)).block()};
    REQUIRE(js.publish("jobs.run", "job-" + std::to_string(i), o));
  }
  auto first = js.fetch("JOBS", "w", 2, 5s);
  REQUIRE(first);
  REQUIRE(first->size() == 2);
  auto& m1 = (*first)[0];
  auto& m2 = (*first)[1];
  CHECK(m1.subject() == "jobs.run");
  CHECK(m1.data() == "job-1");
  CHECK(m1.header("X-N") == std::optional<std::string>("1"));
  CHECK(m1.meta.stream == "JOBS");
  CHECK(m1.meta.consumer == "w");
  CHECK(m1.meta.stream_seq == 1);
  CHECK(m1.meta.consumer_seq == 1);
  CHECK(m1.meta.num_delivered == 1);
  CHECK(m1.meta.num_pending == 3);
  CHECK(m1.meta.timestamp.time_since_epoch().count() > 0);
  CHECK(m2.meta.stream_seq == 2);
  CHECK(m2.meta.num_pending == 2);

  // ack_sync returns once the ack is applied: the consumer's info shows it at once.
  REQUIRE(m1.ack_sync());
  auto after_ack = js.consumer_info("JOBS", "w");
  REQUIRE(after_ack);
  CHECK(after_ack->ack_floor_stream_seq == 1);
  CHECK(after_ack->num_ack_pending == 1);

  // A nak: the message comes again, delivered twice.
  REQUIRE(m2.nak());
  auto again = js.fetch("JOBS", "w", 3, 5s);
  REQUIRE(again);
  REQUIRE(again->size() == 3);
  auto redelivered = std::find_if(again->begin(), again->end(), [](const forest::JsMessage& m) { return m.meta.stream_seq == 2; });
  REQUIRE(redelivered != again->end());
  CHECK(redelivered->meta.num_delivered == 2);
  CHECK(redelivered->data() == "job-2");
  auto during = js.consumer_info("JOBS", "w");
  REQUIRE(during);
  CHECK(during->num_redelivered == 1);
  CHECK(during->num_ack_pending == 3);
  for (auto& m : *again) {
    if (m.meta.stream_seq == 3) {
      REQUIRE(m.term());  // never again
    } else if (m.meta.stream_seq == 4) {
      REQUIRE(m.in_progress());
      REQUIRE(m.ack_sync());
    } else {
      REQUIRE(m.ack_sync());
    }
  }
  // A nak with a delay keeps it out of an immediate fetch; the terminated one never returns.
  REQUIRE(js.publish("jobs.run", "job-5"));
  auto fifth = js.fetch("JOBS", "w", 1, 5s);
  REQUIRE(fifth);
  REQUIRE(fifth->size() == 1);
  CHECK((*fifth)[0].meta.stream_seq == 5);
  REQUIRE((*fifth)[0].nak(std::chrono::nanoseconds(1h)));
  auto rest = js.fetch("JOBS", "w", 5, 300ms);
  REQUIRE(rest);
  CHECK(rest->empty());
  auto info = js.consumer_info("JOBS", "w");
  REQUIRE(info);
  CHECK(info->num_pending == 0);
  CHECK(info->num_ack_pending == 1);  // job-5, nak'd with a delay
  // A message that did not come from a consumer cannot be acked; a batch must be positive.
  forest::JsMessage bare;
  CHECK_FALSE(bare.ack());
  CHECK_FALSE(js.fetch("JOBS", "w", 0, 1s));
}

TEST_CASE("key-value: put, get, create, update, delete, purge, keys, history, errors", "[embed-js]") {
  Fixture f("kv");
  auto& js = *f.js;

  auto missing = js.key_value("PROFILE");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().status == 404);
  CHECK_FALSE(js.create_key_value({.bucket = "bad.bucket"}));
  CHECK_FALSE(js.create_key_value({.bucket = "B", .history = 65}));

  auto created = js.create_key_value({.bucket = "PROFILE", .history = 5});
  REQUIRE(created);
  auto& kv = *created;
  auto stream = js.stream_info("KV_PROFILE");
  REQUIRE(stream);
  CHECK(stream->config.subjects == std::vector<std::string>{"$KV.PROFILE.>"});
  CHECK(stream->config.max_msgs_per_subject == 5);
  CHECK(stream->config.allow_rollup_hdrs);
  CHECK(stream->config.deny_delete);
  CHECK(stream->config.allow_direct);
  CHECK(stream->config.discard == forest::Discard::new_msgs);
  CHECK(stream->config.duplicate_window == 2min);

  auto r1 = kv.put("user.alice", "v1");
  REQUIRE(r1);
  auto r2 = kv.put("user.alice", "v2");
  REQUIRE(r2);
  auto r3 = kv.put("user.alice", "v3");
  REQUIRE(r3);
  CHECK(*r3 == *r1 + 2);
  auto got = kv.get("user.alice");
  REQUIRE(got);
  CHECK(got->value == "v3");
  CHECK(got->revision == *r3);
  CHECK(got->key == "user.alice");
  CHECK(got->bucket == "PROFILE");
  CHECK(got->operation == forest::KvOperation::put);
  CHECK(got->created.time_since_epoch().count() > 0);

  // libnats reads the same entry.
  NatsJs tcp(f.server.client_url());
  REQUIRE(tcp.js != nullptr);
  kvStore* store = nullptr;
  REQUIRE(js_KeyValue(&store, tcp.js, "PROFILE") == NATS_OK);
  kvEntry* e = nullptr;
  REQUIRE(kvStore_Get(&e, store, "user.alice") == NATS_OK);
  CHECK(std::string(kvEntry_ValueString(e)) == "v3");
  CHECK(kvEntry_Revision(e) == got->revision);
  kvEntry_Destroy(e);
  kvStore_Destroy(store);

  auto history = kv.history("user.alice");
  REQUIRE(history);
  REQUIRE(history->size() == 3);
  CHECK((*history)[0].value == "v1");
  CHECK((*history)[1].value == "v2");
  CHECK((*history)[2].value == "v3");
  CHECK((*history)[2].revision == *r3);
  CHECK_FALSE(kv.history("user.nobody"));

  // create: refused while the key has a value.
  auto exists = kv.create("user.alice", "again");
  REQUIRE_FALSE(exists);
  CHECK(exists.error().api_code == 10071);
  auto bob = kv.create("user.bob", "b1");
  REQUIRE(bob);
  // update: only against the latest revision.
  auto stale = kv.update("user.alice", "stale", *r2);
  REQUIRE_FALSE(stale);
  CHECK(stale.error().api_code == 10071);
  auto fresh = kv.update("user.alice", "v4", *r3);
  REQUIRE(fresh);
  CHECK(kv.get("user.alice")->value == "v4");

  // Bad keys are refused before anything is sent.
  for (const char* bad : {"", ".lead", "trail.", "sp ace", "wild*", "gt>"}) {
    auto r = kv.put(bad, "x");
    REQUIRE_FALSE(r);
    CHECK(r.error().text == "invalid key");
  }
  CHECK(kv.put("ok-_/=.Key9", "x"));

  // Delete: a marker; get is "key not found"; create works again on the marker.
  REQUIRE(kv.del("user.bob"));
  auto deleted = kv.get("user.bob");
  REQUIRE_FALSE(deleted);
  CHECK(deleted.error().status == 404);
  auto bob_history = kv.history("user.bob");
  REQUIRE(bob_history);
  REQUIRE(bob_history->size() == 2);
  CHECK(bob_history->back().operation == forest::KvOperation::del);
  REQUIRE(kv.put("user.carol", "c1"));
  REQUIRE(kv.put("user.dave", "d1"));
  REQUIRE(kv.purge("user.dave"));
  CHECK_FALSE(kv.get("user.dave"));
  auto dave_history = kv.history("user.dave");
  REQUIRE(dave_history);
  REQUIRE(dave_history->size() == 1);  // the purge marker rolled the history up
  CHECK(dave_history->front().operation == forest::KvOperation::purge);

  auto keys = kv.keys();
  REQUIRE(keys);
  std::sort(keys->begin(), keys->end());
  CHECK(*keys == std::vector<std::string>{"ok-_/=.Key9", "user.alice", "user.carol"});

  auto recreated = kv.create("user.bob", "b2");
  REQUIRE(recreated);
  CHECK(kv.get("user.bob")->value == "b2");

  // Binding to the existing bucket sees the same values.
  auto bound = js.key_value("PROFILE");
  REQUIRE(bound);
  CHECK(bound->get("user.bob")->value == "b2");

  auto empty = js.create_key_value({.bucket = "EMPTY"});
  REQUIRE(empty);
  auto no_keys = empty->keys();
  REQUIRE(no_keys);
  CHECK(no_keys->empty());
}

TEST_CASE("key-value: a bucket without allow_direct is read with STREAM.MSG.GET", "[embed-js]") {
  Fixture f("kv-msg-get");
  auto& js = *f.js;
  REQUIRE(js.add_stream({.name = "KV_OLD", .subjects = {"$KV.OLD.>"}, .max_msgs_per_subject = 3,
                         .allow_rollup_hdrs = true, .deny_delete = true, .allow_direct = false}));
  auto kv = js.key_value("OLD");
  REQUIRE(kv);
  auto rev = kv->put("k", std::string("bin\0ary", 7));
  REQUIRE(rev);
  auto got = kv->get("k");
  REQUIRE(got);
  CHECK(got->value == std::string("bin\0ary", 7));
  CHECK(got->revision == *rev);
  CHECK(got->created.time_since_epoch().count() > 0);
  REQUIRE(kv->del("k"));
  auto gone = kv->get("k");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().status == 404);
  auto never = kv->get("never");
  REQUIRE_FALSE(never);
  CHECK(never.error().status == 404);
}

TEST_CASE("key-value watch: initial values, then the marker, then puts and deletes", "[embed-js]") {
  Fixture f("kv-watch");
  auto& js = *f.js;
  auto kv = js.create_key_value({.bucket = "W", .history = 3});
  REQUIRE(kv);
  REQUIRE(kv->put("a", "a1"));
  REQUIRE(kv->put("a", "a2"));
  REQUIRE(kv->put("b", "b1"));
  REQUIRE(kv->put("other.x", "o1"));

  Collected got;
  auto w = kv->watch("*", [&](const forest::KvEntry& e) { got.add(e); }, {.initial_done = [&] { got.done(); }});
  REQUIRE(w);
  REQUIRE(got.wait(2));
  {
    std::lock_guard lock(got.mu);
    CHECK(got.initial_done == 1);
    CHECK(got.entries_at_initial_done == 2);  // the latest of a and b, not other.x
    REQUIRE(got.entries.size() == 2);
    CHECK(got.entries[0].key == "a");
    CHECK(got.entries[0].value == "a2");
    CHECK(got.entries[1].key == "b");
    CHECK(got.entries[1].delta == 0);
  }
  REQUIRE(kv->put("c", "c1"));
  REQUIRE(kv->del("a"));
  REQUIRE(got.wait(4));
  {
    std::lock_guard lock(got.mu);
    CHECK(got.entries[2].key == "c");
    CHECK(got.entries[2].operation == forest::KvOperation::put);
    CHECK(got.entries[3].key == "a");
    CHECK(got.entries[3].operation == forest::KvOperation::del);
    CHECK(got.initial_done == 1);
  }
  w->stop();
  CHECK_FALSE(w->running());
  auto stream = js.stream_info("KV_W");
  REQUIRE(stream);
  CHECK(stream->state.consumer_count == 0);  // the watch's consumer went with it

  // On an empty match the marker comes at once; with history every value comes.
  Collected none;
  auto w2 = kv->watch("nothing.*", [&](const forest::KvEntry& e) { none.add(e); }, {.initial_done = [&] { none.done(); }});
  REQUIRE(w2);
  REQUIRE(none.wait(0));
  Collected all;
  auto w3 = kv->watch("a", [&](const forest::KvEntry& e) { all.add(e); },
                      {.include_history = true, .initial_done = [&] { all.done(); }});
  REQUIRE(w3);
  REQUIRE(all.wait(3));
  {
    std::lock_guard lock(all.mu);
    CHECK(all.entries_at_initial_done == 3);  // a1, a2 and the delete marker
    CHECK(all.entries[2].operation == forest::KvOperation::del);
  }
}

TEST_CASE("restart on the same data dir keeps streams, consumers and key-value entries", "[embed-js]") {
  const auto dir = scratch_dir("js-restart");  // the path Fixture("restart", true) keeps
  uint64_t revision = 0;
  {
    Fixture f("restart", true);
    auto& js = *f.js;
    REQUIRE(js.add_stream({.name = "KEEP", .subjects = {"keep.>"}}));
    REQUIRE(js.publish("keep.a", "1"));
    REQUIRE(js.publish("keep.a", "2"));
    REQUIRE(js.add_consumer("KEEP", {.durable_name = "d"}));
    auto one = js.fetch("KEEP", "d", 1, 5s);
    REQUIRE(one);
    REQUIRE(one->size() == 1);
    REQUIRE((*one)[0].ack_sync());
    auto kv = js.create_key_value({.bucket = "CFG"});
    REQUIRE(kv);
    auto r = kv->put("mode", "fast");
    REQUIRE(r);
    revision = *r;
    f.conn.reset();
    f.server.shutdown();
  }
  Fixture f("restart", true);
  auto& js = *f.js;
  auto info = js.stream_info("KEEP");
  REQUIRE(info);
  CHECK(info->state.messages == 2);
  auto ci = js.consumer_info("KEEP", "d");
  REQUIRE(ci);
  CHECK(ci->ack_floor_stream_seq == 1);
  CHECK(ci->num_pending == 1);
  auto next = js.fetch("KEEP", "d", 1, 5s);
  REQUIRE(next);
  REQUIRE_FALSE(next->empty());
  CHECK((*next)[0].meta.stream_seq == 2);
  auto kv = js.key_value("CFG");
  REQUIRE(kv);
  auto got = kv->get("mode");
  REQUIRE(got);
  CHECK(got->value == "fast");
  CHECK(got->revision == revision);
  f.conn.reset();
  f.server.shutdown();
  std::filesystem::remove_all(dir);
}

// Mirrors and sources of streams on the same server, against forest-server and nats-server
// 2.9.10 with the same assertions: a mirror keeps the origin's sequences (gaps included) and
// follows it; sources merge filtered origins with their Nats-Stream-Source header; a mirror
// of a stream that does not exist yet reports it and catches up once it does; a copy the
// target refuses (discard new) is retried once there is room. Then forest-server alone:
// positions survive kill -9 (nothing copied twice or lost), and what is not supported yet is
// refused clearly.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http_get.hpp"
#include "js_target.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

// Both servers, or forest alone under FOREST_SKIP_ORACLE=1 (server_process.hpp).
const std::vector<std::string> kKinds = server_kinds();

struct Info {
  bool ok = false;
  std::string error;  // the API error's description, if any
  uint64_t msgs = 0, first = 0, last = 0, num_deleted = 0;
  std::string mirror_json;   // the "mirror" object as sent, "" when absent
  std::string sources_json;  // the "sources" array as sent, "" when absent
};

Info info(const JsTarget& t, const std::string& stream) {
  Info out;
  const std::string reply = t.request("$JS.API.STREAM.INFO." + stream);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (reply.empty() || parser.parse(reply).get(doc) != simdjson::SUCCESS) return out;
  std::string_view desc;
  if (doc["error"]["description"].get(desc) == simdjson::SUCCESS) {
    out.error = desc;
    return out;
  }
  simdjson::dom::element st;
  if (doc["state"].get(st) != simdjson::SUCCESS) return out;
  out.ok = true;
  auto u64 = [&](const char* key) {
    uint64_t v = 0;
    return st[key].get(v) == simdjson::SUCCESS ? v : 0;  // omitempty fields are absent when 0
  };
  out.msgs = u64("messages");
  out.first = u64("first_seq");
  out.last = u64("last_seq");
  out.num_deleted = u64("num_deleted");
  simdjson::dom::element e;
  if (doc["mirror"].get(e) == simdjson::SUCCESS) out.mirror_json = simdjson::minify(e);
  if (doc["sources"].get(e) == simdjson::SUCCESS) out.sources_json = simdjson::minify(e);
  return out;
}

std::string create(const JsTarget& t, const std::string& name, const std::string& config_fields) {
  return t.request("$JS.API.STREAM.CREATE." + name, "{\"name\":\"" + name + "\"," + config_fields + "}");
}

bool publish(const JsTarget& t, const std::string& subject, const std::string& data, const char* msg_id = nullptr) {
  jsPubOptions o;
  jsPubOptions_Init(&o);
  if (msg_id != nullptr) o.MsgId = msg_id;
  jsPubAck* pa = nullptr;
  jsErrCode err{};
  if (js_Publish(&pa, t.js, subject.c_str(), data.data(), static_cast<int>(data.size()), &o, &err) != NATS_OK) return false;
  jsPubAck_Destroy(pa);
  return true;
}

// Polls the stream until it holds `msgs` messages (copies are asynchronous on both servers).
Info wait_msgs(const JsTarget& t, const std::string& stream, uint64_t msgs, std::chrono::milliseconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  Info i;
  do {
    i = info(t, stream);
    if (i.ok && i.msgs == msgs) return i;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < until);
  return i;
}

struct Got {
  bool found = false;
  std::string subject, data, source_header;
  int64_t time_ns = 0;
};
Got get(const JsTarget& t, const std::string& stream, uint64_t seq) {
  natsMsg* m = nullptr;
  jsErrCode err{};
  Got g;
  if (js_GetMsg(&m, t.js, stream.c_str(), seq, nullptr, &err) != NATS_OK) return g;
  g.found = true;
  g.subject = natsMsg_GetSubject(m);
  g.data.assign(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
  g.time_ns = natsMsg_GetTime(m);
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, "Nats-Stream-Source", &v) == NATS_OK) g.source_header = v;
  natsMsg_Destroy(m);
  return g;
}

std::string field_of(const std::string& json, const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc, e;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) return "";
  if (doc.type() == simdjson::dom::element_type::ARRAY) {
    simdjson::dom::array a = doc.get_array();
    if (a.size() == 0) return "";
    doc = a.at(0);
  }
  if (doc[key].get(e) != simdjson::SUCCESS) return "";
  return simdjson::minify(e);
}

// "active" is how long ago the server last heard from the origin: it differs by nature.
std::string mask_active(const std::string& json) {
  static const std::regex active(R"("active":-?\d+)");
  return std::regex_replace(json, active, "\"active\":<n>");
}

}  // namespace

TEST_CASE("a mirror keeps the origin's sequences and follows it", "[sources]") {
  std::vector<std::string> shown;  // the stream info's mirror object, per server
  for (const std::string& kind : kKinds) {
    INFO("server: " << kind);
    JsTarget t(kind, "mirror", {"-m", "-1"});
    REQUIRE(t.ready());
    REQUIRE(create(t, "ORIGIN", "\"subjects\":[\"o.>\"]").find("\"error\"") == std::string::npos);
    for (int i = 1; i <= 5; ++i) REQUIRE(publish(t, "o." + std::to_string(i), "m" + std::to_string(i)));
    REQUIRE(t.request("$JS.API.STREAM.MSG.DELETE.ORIGIN", "{\"seq\":2}").find("\"success\":true") != std::string::npos);

    const std::string r = create(t, "COPY", "\"mirror\":{\"name\":\"ORIGIN\"}");
    REQUIRE(r.find("\"error\"") == std::string::npos);
    Info i = wait_msgs(t, "COPY", 4);
    CHECK(i.msgs == 4);
    CHECK(i.first == 1);
    CHECK(i.last == 5);
    CHECK(i.num_deleted == 1);
    CHECK(field_of(i.mirror_json, "name") == "\"ORIGIN\"");
    for (uint64_t seq : {1, 3, 4, 5}) {
      const Got a = get(t, "ORIGIN", seq), b = get(t, "COPY", seq);
      REQUIRE(b.found);
      CHECK(b.subject == a.subject);
      CHECK(b.data == a.data);
      CHECK(b.time_ns == a.time_ns);  // a mirror keeps the origin's time stamps
      CHECK(b.source_header.empty());
    }
    CHECK_FALSE(get(t, "COPY", 2).found);

    // It follows what comes next, and a mirror takes no publishes of its own.
    for (int i2 = 6; i2 <= 8; ++i2) REQUIRE(publish(t, "o." + std::to_string(i2), "m" + std::to_string(i2)));
    i = wait_msgs(t, "COPY", 7);
    CHECK(i.msgs == 7);
    CHECK(i.last == 8);
    CHECK(field_of(i.mirror_json, "lag") == "0");
    shown.push_back(mask_active(i.mirror_json));
    // /jsz's stream detail carries the same mirror object.
    std::string jsz = http_get(t.server->http_port(), "/jsz?streams=true");
    std::erase_if(jsz, [](char c) { return c == ' ' || c == '\n'; });  // nats-server indents
    CHECK(jsz.find("\"mirror\":") != std::string::npos);
    CHECK(jsz.find("\"name\":\"ORIGIN\",\"lag\":0") != std::string::npos);
    CHECK(get(t, "COPY", 8).data == "m8");
    CHECK(create(t, "BAD", "\"mirror\":{\"name\":\"ORIGIN\"},\"subjects\":[\"x\"]").find("10034") != std::string::npos);
  }
  if (shown.size() == 2) CHECK(shown[0] == shown[1]);
}

TEST_CASE("sources merge filtered origins, marked with Nats-Stream-Source", "[sources]") {
  std::vector<std::string> shown;  // the stream info's sources, per server (nats-server: map order)
  for (const std::string& kind : kKinds) {
    INFO("server: " << kind);
    JsTarget t(kind, "sources");
    REQUIRE(t.ready());
    REQUIRE(create(t, "A", "\"subjects\":[\"a.>\"]").find("\"error\"") == std::string::npos);
    REQUIRE(create(t, "B", "\"subjects\":[\"b.>\"]").find("\"error\"") == std::string::npos);
    for (int i = 0; i < 3; ++i) REQUIRE(publish(t, "a.x", "a" + std::to_string(i)));
    REQUIRE(publish(t, "b.x", "bx"));
    REQUIRE(publish(t, "b.y", "by"));
    const std::string r =
        create(t, "ALL", "\"subjects\":[\"all.own\"],\"sources\":[{\"name\":\"A\"},{\"name\":\"B\",\"filter_subject\":\"b.x\"}]");
    REQUIRE(r.find("\"error\"") == std::string::npos);
    Info i = wait_msgs(t, "ALL", 4);
    REQUIRE(i.msgs == 4);
    REQUIRE(publish(t, "all.own", "own"));
    REQUIRE(publish(t, "a.x", "a3"));
    REQUIRE(publish(t, "b.y", "by2"));  // filtered out
    i = wait_msgs(t, "ALL", 6);
    CHECK(i.msgs == 6);

    std::multiset<std::string> headers, datas;
    for (uint64_t seq = 1; seq <= 6; ++seq) {
      const Got g = get(t, "ALL", seq);
      REQUIRE(g.found);
      datas.insert(g.data);
      if (g.data != "own") headers.insert(g.source_header);
      else CHECK(g.source_header.empty());
    }
    CHECK(datas == std::multiset<std::string>{"a0", "a1", "a2", "a3", "bx", "own"});
    CHECK(headers == std::multiset<std::string>{"A 1", "A 2", "A 3", "A 4", "B 1"});
    CHECK(i.sources_json.find("\"name\":\"A\"") != std::string::npos);
    CHECK(i.sources_json.find("\"name\":\"B\"") != std::string::npos);
    std::string masked = mask_active(i.sources_json);
    if (masked.find("\"name\":\"B\"") < masked.find("\"name\":\"A\"")) {
      // nats-server lists them in its map's order: put A first to compare.
      const std::size_t split = masked.find("},{");
      if (split != std::string::npos) masked = "[" + masked.substr(split + 2, masked.size() - split - 3) + "," + masked.substr(1, split) + "]";
    }
    shown.push_back(masked);

    // A second hop replaces the header with its own. (A filter would have to overlap ALL's
    // own subjects, on both servers.)
    REQUIRE(create(t, "HOP", "\"sources\":[{\"name\":\"ALL\"}]").find("\"error\"") == std::string::npos);
    i = wait_msgs(t, "HOP", 6);
    REQUIRE(i.msgs == 6);
    std::set<std::string> hop;
    for (uint64_t seq = 1; seq <= 6; ++seq) hop.insert(get(t, "HOP", seq).source_header);
    CHECK(hop == std::set<std::string>{"ALL 1", "ALL 2", "ALL 3", "ALL 4", "ALL 5", "ALL 6"});
  }
  if (shown.size() == 2) CHECK(shown[0] == shown[1]);
}

TEST_CASE("a mirror of a stream that does not exist yet catches up once it does", "[sources]") {
  std::vector<std::string> errors;
  for (const std::string& kind : kKinds) {
    INFO("server: " << kind);
    JsTarget t(kind, "missing");
    REQUIRE(t.ready());
    REQUIRE(create(t, "LATER", "\"mirror\":{\"name\":\"SOON\"}").find("\"error\"") == std::string::npos);
    // nats-server learns it from its consumer create's answer: give it that moment.
    std::string err;
    for (int n = 0; n < 100 && err.empty(); ++n) {
      err = field_of(info(t, "LATER").mirror_json, "error");
      if (err.empty()) std::this_thread::sleep_for(50ms);
    }
    errors.push_back(err);
    CHECK(err.find("10059") != std::string::npos);
    REQUIRE(create(t, "SOON", "\"subjects\":[\"soon\"]").find("\"error\"") == std::string::npos);
    for (int i = 0; i < 3; ++i) REQUIRE(publish(t, "soon", std::to_string(i)));
    // nats-server retries its mirror consumer on a timer; a generous limit.
    const Info i = wait_msgs(t, "LATER", 3, 30s);
    CHECK(i.msgs == 3);
    CHECK(field_of(i.mirror_json, "error").empty());
  }
  if (errors.size() == 2) CHECK(errors[0] == errors[1]);
}

TEST_CASE("a copy the target refuses is retried once there is room", "[sources]") {
  for (const std::string& kind : kKinds) {
    INFO("server: " << kind);
    JsTarget t(kind, "refused");
    REQUIRE(t.ready());
    REQUIRE(create(t, "SRC", "\"subjects\":[\"src\"]").find("\"error\"") == std::string::npos);
    for (int i = 0; i < 5; ++i) REQUIRE(publish(t, "src", std::to_string(i)));
    REQUIRE(create(t, "SMALL", "\"max_msgs\":3,\"discard\":\"new\",\"sources\":[{\"name\":\"SRC\"}]").find("\"error\"") ==
            std::string::npos);
    Info i = wait_msgs(t, "SMALL", 3);
    REQUIRE(i.msgs == 3);
    std::this_thread::sleep_for(300ms);
    CHECK(info(t, "SMALL").msgs == 3);
    REQUIRE(t.request("$JS.API.STREAM.PURGE.SMALL").find("\"success\":true") != std::string::npos);
    i = wait_msgs(t, "SMALL", 2, 30s);
    REQUIRE(i.msgs == 2);
    std::set<std::string> got;
    for (uint64_t seq = i.first; seq <= i.last; ++seq) got.insert(get(t, "SMALL", seq).data);
    CHECK(got == std::set<std::string>{"3", "4"});
  }
}

TEST_CASE("mirror and source positions survive kill -9: nothing twice, nothing lost", "[sources]") {
  JsTarget t("forest", "sources-crash");
  REQUIRE(t.ready());
  REQUIRE(create(t, "IN", "\"subjects\":[\"in.>\"]").find("\"error\"") == std::string::npos);
  REQUIRE(create(t, "MIR", "\"mirror\":{\"name\":\"IN\"}").find("\"error\"") == std::string::npos);
  REQUIRE(create(t, "AGG", "\"sources\":[{\"name\":\"IN\"}]").find("\"error\"") == std::string::npos);
  int published = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 400; ++i) REQUIRE(publish(t, "in." + std::to_string(i % 7), std::to_string(published++)));
    t.crash_and_restart();  // possibly in the middle of copying
    REQUIRE(t.ready());
  }
  const Info mir = wait_msgs(t, "MIR", static_cast<uint64_t>(published));
  const Info agg = wait_msgs(t, "AGG", static_cast<uint64_t>(published));
  CHECK(mir.msgs == static_cast<uint64_t>(published));
  CHECK(mir.last == static_cast<uint64_t>(published));
  REQUIRE(agg.msgs == static_cast<uint64_t>(published));
  std::set<std::string> headers;
  for (uint64_t seq = agg.first; seq <= agg.last; ++seq) headers.insert(get(t, "AGG", seq).source_header);
  CHECK(headers.size() == static_cast<std::size_t>(published));
  CHECK(headers.contains("IN 1"));
  CHECK(headers.contains("IN " + std::to_string(published)));
}

TEST_CASE("what forest-server does not copy yet is refused with a clear error", "[sources]") {
  JsTarget t("forest", "sources-refused");
  REQUIRE(t.ready());
  REQUIRE(create(t, "WQ", "\"subjects\":[\"wq\"],\"retention\":\"workqueue\"").find("\"error\"") == std::string::npos);
  const std::string r = create(t, "FROMWQ", "\"sources\":[{\"name\":\"WQ\"}]");
  CHECK(r.find("not supported yet") != std::string::npos);
  const std::string ext = create(t, "EXT", "\"mirror\":{\"name\":\"X\",\"external\":{\"api\":\"$JS.hub.API\"}}");
  CHECK(ext.find("not supported yet") != std::string::npos);
  CHECK(info(t, "FROMWQ").error == "stream not found");
}

TEST_CASE("start sequences, sources added and removed by an update, a deleted origin", "[sources]") {
  std::vector<std::string> gone_errors;
  for (const std::string& kind : kKinds) {
    INFO("server: " << kind);
    JsTarget t(kind, "sources-update");
    REQUIRE(t.ready());
    REQUIRE(create(t, "A", "\"subjects\":[\"a\"]").find("\"error\"") == std::string::npos);
    REQUIRE(create(t, "B", "\"subjects\":[\"b\"]").find("\"error\"") == std::string::npos);
    for (int i = 1; i <= 5; ++i) REQUIRE(publish(t, "a", "a" + std::to_string(i)));
    for (int i = 1; i <= 2; ++i) REQUIRE(publish(t, "b", "b" + std::to_string(i)));

    // A mirror from sequence 3 starts there; a source from 4 copies 4 and 5.
    REQUIRE(create(t, "M3", "\"mirror\":{\"name\":\"A\",\"opt_start_seq\":3}").find("\"error\"") == std::string::npos);
    Info m = wait_msgs(t, "M3", 3);
    CHECK(m.msgs == 3);
    CHECK(m.first == 3);
    CHECK(m.last == 5);
    REQUIRE(create(t, "S", "\"sources\":[{\"name\":\"A\",\"opt_start_seq\":4}]").find("\"error\"") == std::string::npos);
    Info s = wait_msgs(t, "S", 2);
    REQUIRE(s.msgs == 2);
    CHECK(get(t, "S", 1).source_header == "A 4");

    // An update adds B (from its start) and keeps A where it was.
    REQUIRE(t.request("$JS.API.STREAM.UPDATE.S",
                      "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"opt_start_seq\":4},{\"name\":\"B\"}]}")
                .find("\"error\"") == std::string::npos);
    s = wait_msgs(t, "S", 4);
    CHECK(s.msgs == 4);
    REQUIRE(publish(t, "a", "a6"));
    s = wait_msgs(t, "S", 5);
    CHECK(s.msgs == 5);
    // Another update drops A: what A gets from then on stays out.
    REQUIRE(t.request("$JS.API.STREAM.UPDATE.S", "{\"name\":\"S\",\"sources\":[{\"name\":\"B\"}]}").find("\"error\"") ==
            std::string::npos);
    REQUIRE(publish(t, "a", "a7"));
    REQUIRE(publish(t, "b", "b3"));
    s = wait_msgs(t, "S", 6);
    CHECK(s.msgs == 6);
    std::this_thread::sleep_for(300ms);
    CHECK(info(t, "S").msgs == 6);
    std::set<std::string> datas;
    for (uint64_t seq = 1; seq <= 6; ++seq) datas.insert(get(t, "S", seq).data);
    CHECK(datas == std::set<std::string>{"a4", "a5", "b1", "b2", "a6", "b3"});

    // The origin of a mirror is deleted: the mirror keeps what it has and says so.
    CHECK(wait_msgs(t, "M3", 5).msgs == 5);  // 3 to 7
    REQUIRE(t.request("$JS.API.STREAM.DELETE.A").find("\"success\":true") != std::string::npos);
    std::string err;
    for (int n = 0; n < 200 && err.empty(); ++n) {
      err = field_of(info(t, "M3").mirror_json, "error");
      if (err.empty()) std::this_thread::sleep_for(50ms);
    }
    gone_errors.push_back(err);
    CHECK(err.find("10059") != std::string::npos);
    CHECK(info(t, "M3").msgs == 5);
  }
  if (gone_errors.size() == 2) CHECK(gone_errors[0] == gone_errors[1]);
}

TEST_CASE("a source from a start time copies what came from then on", "[sources]") {
  for (const std::string& kind : kKinds) {
    INFO("server: " << kind);
    JsTarget t(kind, "sources-time");
    REQUIRE(t.ready());
    REQUIRE(create(t, "T", "\"subjects\":[\"t\"]").find("\"error\"") == std::string::npos);
    for (int i = 1; i <= 3; ++i) REQUIRE(publish(t, "t", "early" + std::to_string(i)));
    // The start: the time stamp of the third message, so the third and later are copied.
    const int64_t third = get(t, "T", 3).time_ns;
    REQUIRE(third > 0);
    for (int i = 4; i <= 5; ++i) REQUIRE(publish(t, "t", "late" + std::to_string(i)));
    const time_t secs = static_cast<time_t>(third / 1'000'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char when[64];
    std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(third % 1'000'000'000));
    const std::string src = std::string("\"sources\":[{\"name\":\"T\",\"opt_start_time\":\"") + when + "\"}]";
    REQUIRE(create(t, "FROMTIME", src).find("\"error\"") == std::string::npos);
    const Info i = wait_msgs(t, "FROMTIME", 3);
    REQUIRE(i.msgs == 3);
    std::set<std::string> got;
    for (uint64_t seq = 1; seq <= 3; ++seq) got.insert(get(t, "FROMTIME", seq).data);
    CHECK(got == std::set<std::string>{"early3", "late4", "late5"});
  }
}

// DIRECT.GET against forest-server and nats-server 2.9.10: the same requests to both over a
// raw connection, every reply (status lines, header blocks, payloads, API JSON) compared byte
// for byte with only the time stamps masked; then libnats' js_DirectGetMsg and its key-value
// store (whose get reads through direct get) with the same assertions on both.
#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "js_target.hpp"
#include "raw_client.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

// Both servers, or forest alone under FOREST_SKIP_ORACLE=1 (server_process.hpp).
const std::vector<std::string> kKinds = server_kinds();

// RFC 3339 times (Go's RFC3339Nano in a header, Go's time JSON in an API reply): they differ
// between runs by nature. Go's zero time stays compared.
std::string mask_times(const std::string& s) {
  static const std::regex time(R"((?!0001-)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z)");
  return std::regex_replace(s, time, "<time>");
}

std::vector<std::string> split_spaces(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

// A raw client with headers on: requests on their own inbox, replies returned as what a
// client receives, "MSG|<payload>" or "HMSG|<header block>|<payload>" (the control line's
// sizes are checked against the bytes, then left out: a masked time changes them).
class RawNats {
 public:
  explicit RawNats(int port) : c_("127.0.0.1", port) {
    if (!c_.connected() || c_.read_line(5s).rfind("INFO ", 0) != 0) return;
    c_.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nPING\r\n");
    ok_ = c_.read_line(5s) == "PONG\r\n";
  }
  [[nodiscard]] bool ok() const { return ok_; }

  std::string request(const std::string& subject, const std::string& body, const std::string& headers,
                      std::chrono::milliseconds wait) {
    const std::string sid = std::to_string(++sid_);
    const std::string inbox = "_INBOX.direct." + sid;
    std::string out = "SUB " + inbox + " " + sid + "\r\n";
    if (headers.empty()) {
      out += "PUB " + subject + " " + inbox + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
    } else {
      out += "HPUB " + subject + " " + inbox + " " + std::to_string(headers.size()) + " " +
             std::to_string(headers.size() + body.size()) + "\r\n" + headers + body + "\r\n";
    }
    c_.send(out);
    std::string reply = "<no reply>";
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      const std::string line = c_.read_line(left + 1ms);
      if (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) break;
      if (line == "PING\r\n") {
        c_.send("PONG\r\n");
        continue;
      }
      const auto t = split_spaces(line);
      if (t.empty() || (t[0] != "MSG" && t[0] != "HMSG")) {
        reply = line;  // -ERR
        break;
      }
      const bool with_headers = t[0] == "HMSG";
      if (t.size() < (with_headers ? 5u : 4u)) {
        reply = "<bad control line> " + line;
        break;
      }
      const std::size_t total = std::stoul(t.back());
      const std::size_t header_len = with_headers ? std::stoul(t[t.size() - 2]) : 0;
      const std::string bytes = c_.read_exactly(total + 2, 5s);
      if (bytes.size() != total + 2 || header_len > total) {
        reply = "<short message>";
        break;
      }
      if (t[1] != inbox) continue;  // a late answer to an earlier request
      reply = with_headers ? "HMSG|" + mask_times(bytes.substr(0, header_len)) + "|" + bytes.substr(header_len, total - header_len)
                           : "MSG|" + mask_times(bytes.substr(0, total));
      break;
    }
    c_.send("UNSUB " + sid + "\r\n");
    return reply;
  }

 private:
  RawClient c_;
  bool ok_ = false;
  int sid_ = 0;
};

struct Step {
  std::string subject, body, headers;
  bool answered = true;  // false: no server answers it (waited for briefly)
};

std::vector<std::string> run_steps(JsTarget& t, const std::vector<Step>& steps) {
  RawNats c(t.server->client_port());
  REQUIRE(c.ok());
  std::vector<std::string> out;
  for (const Step& s : steps) out.push_back(c.request(s.subject, s.body, s.headers, s.answered ? 3000ms : 400ms));
  return out;
}

const std::string kHeaders = "NATS/1.0\r\nFoo: bar\r\nNats-Msg-Id: x\r\n\r\n";
const std::string kEmptyHeaders = "NATS/1.0\r\n\r\n";
const std::string kRequestHeaders = "NATS/1.0\r\nX-Request: 1\r\n\r\n";

}  // namespace

TEST_CASE("DIRECT.GET replies are byte for byte nats-server's", "[jetstream][direct][oracle]") {
  if (!have_reference()) {
    WARN("skipped: no " << ServerProcess::nats_binary());
    return;
  }
  const std::string G = "$JS.API.DIRECT.GET.";
  const std::vector<Step> steps = {
      {"$JS.API.STREAM.CREATE.S", R"({"name":"S","subjects":["s.>"],"allow_direct":true})", ""},
      {"$JS.API.STREAM.CREATE.N", R"({"name":"N","subjects":["n.>"]})", ""},
      {"$JS.API.STREAM.CREATE.M", R"({"name":"M","subjects":["m.>"],"storage":"memory","allow_direct":true})", ""},
      {"s.a", "hello", ""},
      {"s.b", "hi", kHeaders},
      {"s.a", "", ""},
      {"s.c", "empty header block", kEmptyHeaders},
      {"m.1", "in memory", ""},
      {"n.1", "not direct", ""},
      // By sequence, with and without stored headers, an empty payload, past the end.
      {G + "S", R"({"seq":1})", ""},
      {G + "S", R"({"seq":2})", ""},
      {G + "S", R"({"seq":3})", ""},
      {G + "S", R"({"seq":4})", ""},
      {G + "S", R"({"seq":99})", ""},
      // The request's own headers are not part of the answer.
      {G + "S", R"({"seq":1})", kRequestHeaders},
      // Bodies nats-server refuses, each with its status.
      {G + "S", "", ""},
      {G + "S", "", kRequestHeaders},
      {G + "S", "{}", ""},
      {G + "S", "null", ""},
      {G + "S", R"({"seq":null})", ""},
      {G + "S", R"({"seq":0,"last_by_subj":""})", ""},
      {G + "S", R"({"seq":"x"})", ""},
      {G + "S", R"({"seq":-1})", ""},
      {G + "S", R"({"seq":1.5})", ""},
      {G + "S", R"({"seq":1} x)", ""},
      {G + "S", "nope", ""},
      {G + "S", " ", ""},
      {G + "S", "[1]", ""},
      {G + "S", R"({"seq":1,"last_by_subj":"s.a"})", ""},
      {G + "S", R"({"next_by_subj":"s.a","last_by_subj":"s.a"})", ""},
      // Go's decoder: keys without regard to case, unknown keys ignored, spaces around.
      {G + "S", R"({"SEQ":2})", ""},
      {G + "S", R"({"seq":1,"foo":2})", ""},
      {G + "S", R"( {"seq":1} )", ""},
      // Last by subject, next by subject from a sequence (wildcards too).
      {G + "S", R"({"last_by_subj":"s.a"})", ""},
      {G + "S", R"({"last_by_subj":"s.*"})", ""},
      {G + "S", R"({"last_by_subj":"s.zz"})", ""},
      {G + "S", R"({"next_by_subj":"s.b","seq":1})", ""},
      {G + "S", R"({"next_by_subj":"s.a","seq":2})", ""},
      {G + "S", R"({"next_by_subj":"s.a","seq":4})", ""},
      {G + "S", R"({"next_by_subj":"s.a"})", ""},
      {G + "S", R"({"next_by_subj":">","seq":0})", ""},
      // The subject form: the last message on the subject after the stream name.
      {G + "S.s.a", "", ""},
      {G + "S.s.b", "", ""},
      {G + "S.s.c", "", kRequestHeaders},
      {G + "S.s.zz", "", ""},
      {G + "S.s.a", "a body", ""},
      {G + "M", R"({"seq":1})", ""},
      {G + "M.m.1", "", ""},
      // STREAM.MSG.GET reads its body by the same rules (null is the zero request, trailing
      // bytes are not JSON).
      {"$JS.API.STREAM.MSG.GET.S", "null", ""},
      {"$JS.API.STREAM.MSG.GET.S", R"({"seq":1} x)", ""},
      {"$JS.API.STREAM.MSG.GET.S", "[1]", ""},
      {"$JS.API.STREAM.MSG.GET.S", R"( {"seq":1} )", ""},
      // A deleted message is not found; the last on its subject is the one before. (Asked of
      // a memory stream: nats-server 2.9.10's file store answers 404 for a subject whose last
      // message was deleted, where we answer with the one before.)
      {"$JS.API.STREAM.MSG.DELETE.S", R"({"seq":3})", ""},
      {G + "S", R"({"seq":3})", ""},
      {"m.1", "second", ""},
      {"$JS.API.STREAM.MSG.DELETE.M", R"({"seq":2})", ""},
      {G + "M.m.1", "", ""},
      {G + "M", R"({"last_by_subj":"m.*"})", ""},
      // Streams without allow_direct, and no stream: nobody answers.
      {G + "N", R"({"seq":1})", "", false},
      {G + "N.n.1", "", "", false},
      {G + "NOPE", R"({"seq":1})", "", false},
      // None of the above is counted in the API stats.
      {"$JS.API.INFO", "", ""},
      // allow_direct follows STREAM.UPDATE, both ways.
      {"$JS.API.STREAM.UPDATE.S", R"({"name":"S","subjects":["s.>"],"allow_direct":false})", ""},
      {G + "S", R"({"seq":1})", "", false},
      {G + "S.s.a", "", "", false},
      {"$JS.API.STREAM.UPDATE.S", R"({"name":"S","subjects":["s.>"],"allow_direct":true})", ""},
      {G + "S", R"({"seq":1})", ""},
      {"$JS.API.STREAM.UPDATE.N", R"({"name":"N","subjects":["n.>","o.>"],"allow_direct":true})", ""},
      {G + "N", R"({"seq":1})", ""},
      {G + "N.n.1", "", ""},
      // A subject change keeps direct gets.
      {"$JS.API.STREAM.UPDATE.S", R"({"name":"S","subjects":["s.>","t.>"],"allow_direct":true})", ""},
      {G + "S", R"({"seq":2})", ""},
      // Gone with the stream.
      {"$JS.API.STREAM.DELETE.S", "", ""},
      {G + "S", R"({"seq":1})", "", false},
      {G + "S.s.b", "", "", false},
      {"$JS.API.INFO", "", ""},
  };
  JsTarget ours("forest", "direct");
  JsTarget theirs("nats", "direct");
  REQUIRE(ours.ready());
  REQUIRE(theirs.ready());
  const auto a = run_steps(ours, steps);
  const auto b = run_steps(theirs, steps);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("step " << i << ": " << steps[i].subject << " " << steps[i].body);
    CHECK(a[i] == b[i]);
    CHECK((b[i] != "<no reply>") == steps[i].answered);  // the step means what it says
  }
}

TEST_CASE("a direct get sees the publishes before it, also in the same read", "[jetstream][direct]") {
  for (const std::string& kind : kKinds) {
    if (kind == "nats" && !have_reference()) continue;
    INFO("server: " << kind);
    JsTarget t(kind, "direct-order");
    REQUIRE(t.ready());
    RawNats c(t.server->client_port());
    REQUIRE(c.ok());
    REQUIRE(c.request("$JS.API.STREAM.CREATE.K", R"({"name":"K","subjects":["k.>"],"allow_direct":true})", "", 3000ms)
                .rfind("MSG|", 0) == 0);
    // Publishes without a reply, then the get, in one write: the get is answered after them.
    RawClient raw("127.0.0.1", t.server->client_port());
    REQUIRE(raw.read_line(5s).rfind("INFO ", 0) == 0);
    std::string batch = "CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\nSUB r 1\r\n";
    for (int i = 1; i <= 50; ++i) batch += "PUB k.x " + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) + "\r\n";
    batch += "PUB $JS.API.DIRECT.GET.K.k.x r 0\r\n\r\n";
    raw.send(batch);
    const std::string line = raw.read_line(5s);
    REQUIRE(line.rfind("HMSG r 1 ", 0) == 0);
    const auto t2 = split_spaces(line);
    const std::string bytes = raw.read_exactly(std::stoul(t2.back()) + 2, 5s);
    CHECK(bytes.find("Nats-Sequence: 50\r\n") != std::string::npos);
    CHECK(bytes.substr(bytes.size() - 4) == "50\r\n");
  }
}

namespace {

std::string header(natsMsg* m, const char* key) {
  const char* v = nullptr;
  return natsMsgHeader_Get(m, key, &v) == NATS_OK && v != nullptr ? std::string(v) : std::string("<none>");
}

std::string data(natsMsg* m) { return std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))); }

}  // namespace

TEST_CASE("libnats js_DirectGetMsg and key-value get through direct get", "[jetstream][direct][libnats]") {
  std::vector<uint64_t> api_totals;
  for (const std::string& kind : kKinds) {
    if (kind == "nats" && !have_reference()) continue;
    INFO("server: " << kind);
    JsTarget t(kind, "direct-libnats");
    REQUIRE(t.ready());
    jsCtx* js = t.js;
    jsErrCode err = static_cast<jsErrCode>(0);

    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = "D";
    const char* subjects[] = {"d.>"};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.AllowDirect = true;
    jsStreamInfo* si = nullptr;
    REQUIRE(js_AddStream(&si, js, &cfg, nullptr, &err) == NATS_OK);
    CHECK(si->Config->AllowDirect);
    jsStreamInfo_Destroy(si);

    natsMsg* m = nullptr;
    REQUIRE(natsMsg_Create(&m, "d.one", nullptr, "first", 5) == NATS_OK);
    natsMsgHeader_Set(m, "Color", "blue");
    jsPubAck* pa = nullptr;
    REQUIRE(js_PublishMsg(&pa, js, m, nullptr, &err) == NATS_OK);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    for (const char* s : {"d.two", "d.one"}) {
      REQUIRE(js_Publish(&pa, js, s, "later", 5, nullptr, &err) == NATS_OK);
      jsPubAck_Destroy(pa);
    }

    jsDirectGetMsgOptions dgo;
    jsDirectGetMsgOptions_Init(&dgo);
    dgo.Sequence = 1;
    natsMsg* got = nullptr;
    REQUIRE(js_DirectGetMsg(&got, js, "D", nullptr, &dgo) == NATS_OK);
    CHECK(std::string(natsMsg_GetSubject(got)) == "d.one");
    CHECK(data(got) == "first");
    CHECK(header(got, "Color") == "blue");
    CHECK(header(got, JSStream) == "D");
    CHECK(header(got, JSSubject) == "d.one");
    CHECK(header(got, JSSequence) == "1");
    CHECK(header(got, JSTimeStamp) != "<none>");
    natsMsg_Destroy(got);

    jsDirectGetMsgOptions_Init(&dgo);
    dgo.LastBySubject = "d.one";
    REQUIRE(js_DirectGetMsg(&got, js, "D", nullptr, &dgo) == NATS_OK);
    CHECK(header(got, JSSequence) == "3");
    CHECK(header(got, "Color") == "<none>");
    natsMsg_Destroy(got);

    jsDirectGetMsgOptions_Init(&dgo);
    dgo.NextBySubject = "d.two";
    dgo.Sequence = 1;
    REQUIRE(js_DirectGetMsg(&got, js, "D", nullptr, &dgo) == NATS_OK);
    CHECK(header(got, JSSequence) == "2");
    CHECK(std::string(natsMsg_GetSubject(got)) == "d.two");
    natsMsg_Destroy(got);

    jsDirectGetMsgOptions_Init(&dgo);
    dgo.Sequence = 42;
    got = nullptr;
    CHECK(js_DirectGetMsg(&got, js, "D", nullptr, &dgo) == NATS_NOT_FOUND);
    CHECK(got == nullptr);

    // Key-value: libnats reads a bucket created with direct access through DIRECT.GET.
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = "CFG";
    kc.History = 3;
    kvStore* kv = nullptr;
    REQUIRE(js_CreateKeyValue(&kv, js, &kc) == NATS_OK);
    uint64_t rev = 0;
    REQUIRE(kvStore_PutString(&rev, kv, "color", "red") == NATS_OK);
    CHECK(rev == 1);
    REQUIRE(kvStore_PutString(&rev, kv, "color", "green") == NATS_OK);
    CHECK(rev == 2);
    kvEntry* e = nullptr;
    REQUIRE(kvStore_Get(&e, kv, "color") == NATS_OK);
    CHECK(std::string(kvEntry_ValueString(e)) == "green");
    CHECK(kvEntry_Revision(e) == 2);
    kvEntry_Destroy(e);
    e = nullptr;
    CHECK(kvStore_Get(&e, kv, "nothing") == NATS_NOT_FOUND);
    CHECK(kvStore_CreateString(&rev, kv, "color", "blue") != NATS_OK);  // exists
    REQUIRE(kvStore_Delete(kv, "color") == NATS_OK);
    e = nullptr;
    CHECK(kvStore_Get(&e, kv, "color") == NATS_NOT_FOUND);
    REQUIRE(kvStore_CreateString(&rev, kv, "color", "blue") == NATS_OK);  // a deleted key may be created
    REQUIRE(kvStore_Get(&e, kv, "color") == NATS_OK);
    CHECK(std::string(kvEntry_ValueString(e)) == "blue");
    CHECK(kvEntry_Revision(e) == rev);
    kvEntry_Destroy(e);
    kvStore_Destroy(kv);

    // The gets above went around the API: only the requests that are API requests count.
    jsAccountInfo* ai = nullptr;
    REQUIRE(js_GetAccountInfo(&ai, js, nullptr, &err) == NATS_OK);
    api_totals.push_back(ai->API.Total);
    CHECK(ai->API.Errors == 0);
    CHECK(ai->Streams == 2);
    jsAccountInfo_Destroy(ai);
  }
  if (api_totals.size() == 2) CHECK(api_totals[0] == api_totals[1]);
}

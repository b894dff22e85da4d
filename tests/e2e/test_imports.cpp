// Account imports and exports on one server (suite `imports`): stream imports with a prefix,
// with `to` (literal and wildcard), service imports (raw clients and libnats request/reply),
// the reply reaching only the requester, isolation of what is not exported, the config
// errors, and a reload that adds an import. Every case runs against forest-server and, with
// the same config file, nats-server 2.9.10 (unless FOREST_SKIP_ORACLE=1). Across routes:
// tests/cluster/test_imports_cluster.cpp.
#include <catch2/catch.hpp>
#include <nats/nats.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "raw_client.hpp"
#include "run_command.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

struct ImportsConf {
  std::string path;
  explicit ImportsConf(const std::string& text)
      : path((std::filesystem::temp_directory_path() / ("forest-imp-" + std::to_string(::getpid()) + ".conf")).string()) {
    write(text);
  }
  ~ImportsConf() { std::filesystem::remove(path); }
  void write(const std::string& text) const { std::ofstream(path, std::ios::trunc) << text; }
};

const char* kImports = R"(
accounts {
  A {
    users = [ {user: a1, password: p}, {user: a2, password: p} ]
    exports = [
      {stream: "pub.>"}
      {stream: "lit.one"}
      {stream: "wc.*.>"}
      {stream: "only.b", accounts: [B]}
      {service: "req.*"}
      {service: "svc.b", accounts: [B]}
      {service: "many", response_type: stream}
    ]
  }
  B {
    users = [ {user: b1, password: p}, {user: b2, password: p} ]
    imports = [
      {stream: {account: A, subject: "pub.>"}, prefix: "x"}
      {stream: {account: A, subject: "lit.one"}, to: "mapped.one"}
      {stream: {account: A, subject: "wc.*.>"}, to: "in.*.>"}
      {stream: {account: A, subject: "only.b"}}
      {service: {account: A, subject: "req.foo"}, to: "local.req"}
      {service: {account: A, subject: "svc.b"}}
      {service: {account: A, subject: "many"}}
    ]
  }
  C { users = [ {user: c1, password: p} ] }
}
)";

std::unique_ptr<ServerProcess> start(const std::string& kind, const ImportsConf& conf) {
  auto s = ServerProcess::start(kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(),
                                {"-a", "127.0.0.1", "-p", "-1", "-c", conf.path});
  REQUIRE(s);
  return s;
}

std::unique_ptr<RawClient> login(const ServerProcess& s, const std::string& user) {
  auto c = std::make_unique<RawClient>("127.0.0.1", s.client_port());
  REQUIRE(c->read_line(3s).rfind("INFO ", 0) == 0);
  c->send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"user\":\"" + user +
          "\",\"pass\":\"p\"}\r\nPING\r\n");
  REQUIRE(c->read_line(3s) == "PONG\r\n");
  return c;
}

// What arrives before the PONG of a PING sent now (a message's payload line included).
std::string drain(RawClient& c) {
  c.send("PING\r\n");
  std::string out;
  for (;;) {
    const std::string line = c.read_line(3s);
    if (line.empty() || line == "PONG\r\n") return out;
    out += line;
  }
}

std::string publish(RawClient& c, const std::string& subject, const std::string& payload, const std::string& reply = "") {
  c.send("PUB " + subject + (reply.empty() ? "" : " " + reply) + " " + std::to_string(payload.size()) + "\r\n" +
         payload + "\r\n");
  return drain(c);
}

// The reply subject of the first MSG/HMSG line in `text` ("" if none).
std::string reply_of(const std::string& text) {
  const auto end = text.find("\r\n");
  std::vector<std::string> words;
  std::string w;
  for (const char ch : text.substr(0, end) + " ") {
    if (ch == ' ') {
      if (!w.empty()) words.push_back(w);
      w.clear();
    } else {
      w += ch;
    }
  }
  // MSG subject sid reply size | HMSG subject sid reply hsize size
  if (words.size() == 5 && words[0] == "MSG") return words[3];
  if (words.size() == 6 && words[0] == "HMSG") return words[3];
  return "";
}

void reload(ServerProcess& s, const ImportsConf& conf, const std::string& text) {
  const std::size_t before = s.log().size();
  conf.write(text);
  s.send_signal(SIGHUP);
  for (int i = 0; i < 250; ++i) {
    if (s.log().find("Reloaded server configuration", before) != std::string::npos) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("no reload in the log: " << s.log().substr(before));
}

}  // namespace

TEST_CASE("imports: stream imports with prefix, to and wildcards; nothing else crosses", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ImportsConf conf(kImports);
  auto s = start(kind, conf);
  auto a1 = login(*s, "a1");
  auto b1 = login(*s, "b1");
  auto b2 = login(*s, "b2");
  auto c1 = login(*s, "c1");
  b1->send("SUB x.pub.> 1\r\nSUB mapped.one 2\r\nSUB in.> 3\r\nSUB only.b 4\r\n");
  b2->send("SUB > 9\r\n");
  c1->send("SUB > 9\r\n");
  REQUIRE(drain(*b1).empty());
  REQUIRE(drain(*b2).empty());
  REQUIRE(drain(*c1).empty());

  CHECK(publish(*a1, "pub.foo", "one").empty());
  CHECK(drain(*b1) == "MSG x.pub.foo 1 3\r\none\r\n");
  CHECK(drain(*b2) == "MSG x.pub.foo 9 3\r\none\r\n");

  publish(*a1, "lit.one", "two");
  CHECK(drain(*b1) == "MSG mapped.one 2 3\r\ntwo\r\n");
  CHECK(drain(*b2) == "MSG mapped.one 9 3\r\ntwo\r\n");

  publish(*a1, "wc.k.l.m", "three");
  CHECK(drain(*b1) == "MSG in.k.l.m 3 5\r\nthree\r\n");
  CHECK(drain(*b2) == "MSG in.k.l.m 9 5\r\nthree\r\n");

  publish(*a1, "only.b", "four");
  CHECK(drain(*b1) == "MSG only.b 4 4\r\nfour\r\n");
  CHECK(drain(*b2) == "MSG only.b 9 4\r\nfour\r\n");

  // Not exported, or exported but not imported by this account: nothing arrives.
  publish(*a1, "secret.foo", "s1");
  publish(*a1, "x.pub.foo", "s2");  // A's own subject space: not an import
  publish(*a1, "req.foo", "s3");    // a service, not a stream
  CHECK(drain(*b1).empty());
  CHECK(drain(*b2).empty());
  CHECK(drain(*c1).empty());  // C imports nothing
  // And nothing goes back from B to A.
  a1->send("SUB > 1\r\n");
  REQUIRE(drain(*a1).empty());
  publish(*b1, "pub.foo", "back");
  CHECK(drain(*a1).empty());
}

TEST_CASE("imports: a service import's reply reaches the requester only", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ImportsConf conf(kImports);
  auto s = start(kind, conf);
  auto a1 = login(*s, "a1");  // the responder
  auto a2 = login(*s, "a2");  // another client of the exporting account
  auto b1 = login(*s, "b1");  // the requester
  auto b2 = login(*s, "b2");  // a bystander in the importing account
  a1->send("SUB req.foo 1\r\nSUB many 2\r\n");
  a2->send("SUB _R_.> 7\r\n");
  b1->send("SUB _INBOX.b1 5\r\n");
  b2->send("SUB _R_.> 8\r\n");
  REQUIRE(drain(*a1).empty());
  REQUIRE(drain(*a2).empty());
  REQUIRE(drain(*b1).empty());
  REQUIRE(drain(*b2).empty());

  CHECK(publish(*b1, "local.req", "hi", "_INBOX.b1").empty());
  const std::string request = drain(*a1);
  INFO(request);
  // nats-server 2.9 adds the requester's account as Nats-Request-Info (with its RTT).
  REQUIRE(request.rfind("HMSG req.foo 1 _R_.", 0) == 0);
  CHECK(request.find("Nats-Request-Info: {\"acc\":\"B\"") != std::string::npos);
  CHECK(request.size() > 4);
  CHECK(request.substr(request.size() - 4) == "hi\r\n");
  const std::string reply = reply_of(request);
  REQUIRE(reply.rfind("_R_.", 0) == 0);
  CHECK(drain(*a2).empty());  // A's _R_.> sees the request's reply only as a subject of its own: nothing yet

  // Another client of A writing to the requester's inbox stays in A.
  publish(*a2, "_INBOX.b1", "forged");
  CHECK(drain(*b1).empty());

  // The responder's answer comes back once (a singleton service).
  publish(*a1, reply, "ok!");
  CHECK(drain(*b1) == "MSG _INBOX.b1 5 3\r\nok!\r\n");
  CHECK(drain(*a2) == "MSG " + reply + " 7 3\r\nok!\r\n");  // published in A on the reply subject
  publish(*a1, reply, "again");
  CHECK(drain(*b1).empty());
  CHECK(drain(*b2).empty());  // B never sees an _R_ subject

  // A streamed service answers more than once.
  publish(*b1, "many", "hi", "_INBOX.b1");
  const std::string many = drain(*a1);
  const std::string many_reply = reply_of(many);
  REQUIRE(many_reply.rfind("_R_.", 0) == 0);
  publish(*a1, many_reply, "r1");
  publish(*a1, many_reply, "r2");
  CHECK(drain(*b1) == "MSG _INBOX.b1 5 2\r\nr1\r\nMSG _INBOX.b1 5 2\r\nr2\r\n");
  CHECK(drain(*b2).empty());
}

TEST_CASE("imports: an account token position lets each importer reach its own subject", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ImportsConf conf(R"(
accounts {
  A {
    users = [ {user: a1, password: p} ]
    exports = [ {service: "t.*.req", account_token_position: 2}, {stream: "e.*.>", account_token_position: 2} ]
  }
  B {
    users = [ {user: b1, password: p} ]
    imports = [ {service: {account: A, subject: "t.B.req"}}, {stream: {account: A, subject: "e.B.>"}} ]
  }
}
)");
  auto s = start(kind, conf);
  auto a1 = login(*s, "a1");
  auto b1 = login(*s, "b1");
  a1->send("SUB t.*.req 1\r\n");
  b1->send("SUB _INBOX.b 1\r\nSUB e.> 2\r\n");
  REQUIRE(drain(*a1).empty());
  REQUIRE(drain(*b1).empty());
  // The service: B's request reaches A on B's own subject, and the answer comes back.
  CHECK(publish(*b1, "t.B.req", "hi", "_INBOX.b").empty());
  const std::string request = drain(*a1);
  INFO(request);
  REQUIRE(request.find("t.B.req 1 _R_.") != std::string::npos);
  publish(*a1, reply_of(request), "ok");
  CHECK(drain(*b1) == "MSG _INBOX.b 1 2\r\nok\r\n");
  // The stream: B sees A's messages on its own subjects only.
  publish(*a1, "e.B.x", "mine");
  publish(*a1, "e.C.x", "other");
  CHECK(drain(*b1) == "MSG e.B.x 2 4\r\nmine\r\n");
}

namespace {

void respond(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  natsConnection_PublishString(nc, natsMsg_GetReply(msg), (std::string("pong:") + natsMsg_GetData(msg)).c_str());
  natsMsg_Destroy(msg);
}

natsConnection* connect_nats(const ServerProcess& s, const std::string& user) {
  natsOptions* opts = nullptr;
  REQUIRE(natsOptions_Create(&opts) == NATS_OK);
  const std::string url = "nats://" + user + ":p@127.0.0.1:" + std::to_string(s.client_port());
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetSendAsap(opts, true);
  natsConnection* nc = nullptr;
  const natsStatus st = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  REQUIRE(st == NATS_OK);
  return nc;
}

}  // namespace

TEST_CASE("imports: request/reply through a service import with libnats", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ImportsConf conf(kImports);
  auto s = start(kind, conf);
  natsConnection* responder = connect_nats(*s, "a1");
  natsConnection* requester = connect_nats(*s, "b1");
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_Subscribe(&sub, responder, "req.*", respond, nullptr) == NATS_OK);
  REQUIRE(natsConnection_Flush(responder) == NATS_OK);
  for (int i = 0; i < 3; ++i) {
    natsMsg* reply = nullptr;
    const std::string body = "ping" + std::to_string(i);
    REQUIRE(natsConnection_RequestString(&reply, requester, "local.req", body.c_str(), 3000) == NATS_OK);
    CHECK(std::string(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply))) == "pong:" + body);
    natsMsg_Destroy(reply);
  }
  // The same subject in the requester's own account has no responder; the import is one subject.
  natsMsg* none = nullptr;
  CHECK(natsConnection_RequestString(&none, requester, "req.foo", "x", 500) != NATS_OK);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(requester);
  natsConnection_Destroy(responder);
}

TEST_CASE("imports: configuration errors", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const std::string binary = kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
  auto refused = [&](const std::string& text, const std::string& expect) {
    ImportsConf conf(text);
    std::string out;
    INFO(text);
    CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", conf.path, "-t"}, &out) != 0);
    INFO(out);
    CHECK(out.find(expect) != std::string::npos);
  };
  const std::string a = "A { exports = [ {stream: \"s.>\", accounts: [B]}, {service: \"q.b\", accounts: [B]}, {service: \"q.*\"} ] }\n";
  refused("accounts { " + a + " B {}\n C { imports = [ {service: {account: A, subject: \"q.b\"}} ] } }\n",
          "Error adding service import \"q.b\": service import not authorized");
  refused("accounts { " + a + " B {}\n C { imports = [ {stream: {account: A, subject: \"s.x\"}} ] } }\n",
          "Error adding stream import \"s.x\": stream import not authorized");
  refused("accounts { " + a + " B { imports = [ {stream: {account: Z, subject: \"s.x\"}} ] } }\n",
          "\"Z\" account not defined for stream import");
  refused("accounts { " + a + " B { imports = [ {service: {account: Z, subject: \"q.x\"}} ] } }\n",
          "\"Z\" account not defined for service import");
  refused("accounts { " + a + " B { imports = [ {stream: {account: A, subject: \"nope\"}} ] } }\n",
          "Error adding stream import \"nope\": stream import not authorized");
  refused("accounts { " + a + " B { imports = [ {service: {account: A, subject: \"nope\"}} ] } }\n",
          "Error adding service import \"nope\": service import not authorized");
  refused("accounts { " + a + " B { imports = [ {stream: {account: A, subject: \"s.>\"}, prefix: \"p.*\"} ] } }\n",
          "stream import prefix can not contain wildcard tokens");
  if (kind == "forest") {
    // nats-server checks this only when it meets `to` after `prefix` in its (randomly ordered)
    // map, so it refuses the same file only sometimes; forest-server always does.
    refused("accounts { " + a + " B { imports = [ {stream: {account: A, subject: \"s.>\"}, prefix: p, to: q} ] } }\n",
            "Stream import can not have a 'prefix' and a 'to' property");
  }
  refused("accounts { " + a + " B { imports = [ {stream: {account: A}} ] } }\n", "Expect an account name and a subject");
  refused("accounts { A { exports = [ {stream: \"s.>\", accounts: [Q]} ] } }\n",
          "\"Q\" account not defined for stream export");
  refused("accounts { A { exports = [ {service: \"q\", response_type: forever} ] } }\n",
          "Unknown response type: \"forever\"");
  refused("accounts { " + a +
              " B { imports = [ {service: {account: A, subject: \"q.b\"}, to: l}, {service: {account: A, subject: \"q.x\"}, to: l} ] } }\n",
          "Duplicate service import subject \"l\", previously used in import for account \"A\", subject \"q.b\"");
  // Cycles: the import that closes one is refused (nats-server adds them one by one).
  refused("accounts { A { exports = [ {service: q} ], imports = [ {service: {account: B, subject: q}} ] }\n"
          " B { exports = [ {service: q} ], imports = [ {service: {account: A, subject: q}} ] } }\n",
          "Error adding service import \"q\": import forms a cycle");
  refused("accounts { A { exports = [ {service: q} ], imports = [ {service: {account: C, subject: q}} ] }\n"
          " B { exports = [ {service: q} ], imports = [ {service: {account: A, subject: q}} ] }\n"
          " C { exports = [ {service: q} ], imports = [ {service: {account: B, subject: q}} ] } }\n",
          "import forms a cycle");
  refused("accounts { A { exports = [ {stream: \"s.>\"} ], imports = [ {stream: {account: B, subject: \"s.>\"}} ] }\n"
          " B { exports = [ {stream: \"s.>\"} ], imports = [ {stream: {account: A, subject: \"s.>\"}} ] } }\n",
          "Error adding stream import \"s.>\": import forms a cycle");
  // account_token_position: the token must be a `*` of the export, and an importer may fill it
  // with its own name only (not another's, nor import the export's own `*`).
  refused("accounts { A { exports = [ {service: \"t.x.req\", account_token_position: 2} ] } }\n",
          "Error adding service export \"t.x.req\": sublist: invalid subject");
  refused("accounts { A { exports = [ {stream: \"t.*\", account_token_position: 3} ] } }\n",
          "Error adding stream export \"t.*\": sublist: invalid subject");
  const std::string tok = "A { exports = [ {service: \"t.*.req\", account_token_position: 2}, "
                          "{stream: \"e.*.>\", account_token_position: 2} ] }\n";
  refused("accounts { " + tok + " B { imports = [ {service: {account: A, subject: \"t.C.req\"}} ] }\n C {} }\n",
          "Error adding service import \"t.C.req\": service import not authorized");
  refused("accounts { " + tok + " B { imports = [ {service: {account: A, subject: \"t.*.req\"}} ] } }\n",
          "Error adding service import \"t.*.req\": service import not authorized");
  refused("accounts { " + tok + " B { imports = [ {stream: {account: A, subject: \"e.C.>\"}} ] }\n C {} }\n",
          "Error adding stream import \"e.C.>\": stream import not authorized");
  ImportsConf own("accounts { " + tok +
                  " B { imports = [ {service: {account: A, subject: \"t.B.req\"}}, {stream: {account: A, subject: \"e.B.>\"}} ] } }\n");
  std::string own_out;
  CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", own.path, "-t"}, &own_out) == 0);
  INFO(own_out);
  // Accepted: B may import what is exported to it; a prefix on a service import is ignored.
  ImportsConf fine("accounts { " + a +
                   " B { imports = [ {stream: {account: A, subject: \"s.x\"}}, {service: {account: A, subject: \"q.b\"}, prefix: ignored} ] } }\n");
  std::string out;
  CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", fine.path, "-t"}, &out) == 0);
  INFO(out);
}

TEST_CASE("imports: a reload adds and removes an import", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const std::string without = R"(
accounts {
  A { users = [ {user: a1, password: p} ], exports = [ {stream: "pub.>"} ] }
  B { users = [ {user: b1, password: p} ] }
}
)";
  const std::string with = R"(
accounts {
  A { users = [ {user: a1, password: p} ], exports = [ {stream: "pub.>"} ] }
  B { users = [ {user: b1, password: p} ], imports = [ {stream: {account: A, subject: "pub.>"}, prefix: "x"} ] }
}
)";
  ImportsConf conf(without);
  auto s = start(kind, conf);
  auto a1 = login(*s, "a1");
  auto b1 = login(*s, "b1");
  b1->send("SUB x.> 1\r\n");
  REQUIRE(drain(*b1).empty());
  publish(*a1, "pub.one", "1");
  CHECK(drain(*b1).empty());

  reload(*s, conf, with);
  publish(*a1, "pub.two", "2");
  CHECK(drain(*b1) == "MSG x.pub.two 1 1\r\n2\r\n");

  reload(*s, conf, without);
  publish(*a1, "pub.three", "3");
  CHECK(drain(*b1).empty());
}

TEST_CASE("imports: a reply owed to a requester that unsubscribed is dropped", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ImportsConf conf(kImports);
  auto s = start(kind, conf);
  auto a1 = login(*s, "a1");
  auto b1 = login(*s, "b1");
  a1->send("SUB req.foo 1\r\n");
  b1->send("SUB _INBOX.gone 5\r\n");
  REQUIRE(drain(*a1).empty());
  REQUIRE(drain(*b1).empty());
  publish(*b1, "local.req", "hi", "_INBOX.gone");
  const std::string reply = reply_of(drain(*a1));
  REQUIRE(reply.rfind("_R_.", 0) == 0);
  // The requester's inbox loses its last subscriber, then comes back: the old request's
  // reply mapping is gone with it (nats-server removes it on the unsubscribe).
  b1->send("UNSUB 5\r\n");
  REQUIRE(drain(*b1).empty());
  b1->send("SUB _INBOX.gone 6\r\n");
  REQUIRE(drain(*b1).empty());
  publish(*a1, reply, "late");
  CHECK(drain(*b1).empty());
  // A new request on the same inbox works as before.
  publish(*b1, "local.req", "again", "_INBOX.gone");
  const std::string reply2 = reply_of(drain(*a1));
  REQUIRE(reply2.rfind("_R_.", 0) == 0);
  publish(*a1, reply2, "ok");
  CHECK(drain(*b1) == "MSG _INBOX.gone 6 2\r\nok\r\n");
}

// The system account (`system_account`) and its server requests ($SYS.REQ.SERVER.PING,
// .PING.<KIND>, .<id>.<KIND>), end to end. Every case runs against forest-server and, with the
// same config file, nats-server 2.9.10 (unless FOREST_SKIP_ORACLE=1): the replies' shape and
// the fields clients read are compared, not values that differ between servers.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "run_command.hpp"
#include "sys_request.hpp"

using namespace forest::testing;
using namespace forest::testing::sys;
using namespace std::chrono_literals;

namespace {

const char* kSystem = R"(
accounts {
  SYS { users = [ {user: sys, password: p} ] }
  A { users = [ {user: a, password: p} ] }
}
system_account: SYS
)";

}  // namespace

TEST_CASE("system account: $SYS.REQ.SERVER.PING answers with statsz", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  auto a = login(*server, "a");
  sys->send("SUB _INBOX.ping 1\r\n");
  send_request(*sys, "$SYS.REQ.SERVER.PING", "_INBOX.ping");
  const auto [subject, payload] = next_message(*sys);
  INFO(payload);
  REQUIRE(subject == "_INBOX.ping");
  simdjson::dom::parser parser;
  const simdjson::dom::element reply = parser.parse(payload);
  CHECK(std::string_view(reply["server"]["name"]) == "sys-test-" + kind);
  CHECK(std::string_view(reply["server"]["id"]).size() == 56);
  CHECK(std::string_view(reply["server"]["ver"]) == "2.9.10");
  CHECK(int64_t(reply["statsz"]["connections"]) >= 2);
  CHECK(reply["statsz"]["received"]["msgs"].is_int64());
  CHECK(reply["statsz"]["sent"]["bytes"].is_int64());
  CHECK(int64_t(reply["statsz"]["mem"]) > 0);
}

TEST_CASE("system account: connect and disconnect events of other accounts' clients", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  sys->send("SUB $SYS.ACCOUNT.*.CONNECT 1\r\nSUB $SYS.ACCOUNT.*.DISCONNECT 2\r\nPING\r\n");
  REQUIRE(sys->read_line(3s) == "PONG\r\n");

  auto a = std::make_unique<RawClient>("127.0.0.1", server->client_port());
  REQUIRE(a->read_line(3s).rfind("INFO ", 0) == 0);
  a->send("CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"evt\",\"lang\":\"raw\",\"version\":\"0.1\","
          "\"user\":\"a\",\"pass\":\"p\"}\r\nPUB x 5\r\nhello\r\nPING\r\n");
  REQUIRE(a->read_line(3s) == "PONG\r\n");
  // The subscriber's own connect event is published after its login, asynchronously on both
  // servers: it may come after the SUB took effect. Skipped.
  auto [connect_subject, connect] = next_message(*sys);
  while (connect_subject == "$SYS.ACCOUNT.SYS.CONNECT") std::tie(connect_subject, connect) = next_message(*sys);
  INFO(connect);
  REQUIRE(connect_subject == "$SYS.ACCOUNT.A.CONNECT");
  simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(connect);
  CHECK(std::string_view(e["type"]) == "io.nats.server.advisory.v1.client_connect");
  CHECK(std::string_view(e["id"]).size() == 22);
  CHECK(std::string_view(e["server"]["name"]) == "sys-test-" + kind);
  CHECK(std::string_view(e["client"]["acc"]) == "A");
  CHECK(std::string_view(e["client"]["user"]) == "a");
  CHECK(std::string_view(e["client"]["name"]) == "evt");
  CHECK(std::string_view(e["client"]["lang"]) == "raw");
  CHECK(std::string_view(e["client"]["ver"]) == "0.1");
  CHECK(std::string_view(e["client"]["host"]) == "127.0.0.1");
  CHECK(std::string_view(e["client"]["kind"]) == "Client");
  CHECK(std::string_view(e["client"]["client_type"]) == "nats");
  CHECK(e["client"]["start"].is_string());
  CHECK(e["client"]["stop"].error() == simdjson::NO_SUCH_FIELD);
  const uint64_t cid = uint64_t(e["client"]["id"]);

  a.reset();  // the client goes away
  const auto [disconnect_subject, disconnect] = next_message(*sys);
  INFO(disconnect);
  REQUIRE(disconnect_subject == "$SYS.ACCOUNT.A.DISCONNECT");
  e = parser.parse(disconnect);
  CHECK(std::string_view(e["type"]) == "io.nats.server.advisory.v1.client_disconnect");
  CHECK(uint64_t(e["client"]["id"]) == cid);
  CHECK(std::string_view(e["client"]["acc"]) == "A");
  CHECK(e["client"]["stop"].is_string());
  CHECK(int64_t(e["sent"]["msgs"]) == 1);
  CHECK(int64_t(e["sent"]["bytes"]) == 5);
  CHECK(int64_t(e["received"]["msgs"]) == 0);
  CHECK(std::string_view(e["reason"]) == "Client Closed");

  // The system account's own clients give events too; a client that fails to authenticate none.
  auto bad = std::make_unique<RawClient>("127.0.0.1", server->client_port());
  REQUIRE(bad->read_line(3s).rfind("INFO ", 0) == 0);
  bad->send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"wrong\"}\r\n");
  CHECK(bad->read_line(3s).rfind("-ERR 'Authorization Violation'", 0) == 0);
  bad.reset();
  sys->send("PING\r\n");
  CHECK(sys->read_line(3s) == "PONG\r\n");  // no event came first
}

TEST_CASE("system account: $SYS.SERVER.<id>.CLIENT.AUTH.ERR for each client that fails authentication",
          "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  sys->send("SUB $SYS.SERVER.*.CLIENT.AUTH.ERR 1\r\nPING\r\n");
  REQUIRE(sys->read_line(3s) == "PONG\r\n");
  sys->send("SUB _INBOX.id 2\r\n");
  send_request(*sys, "$SYS.REQ.SERVER.PING", "_INBOX.id");
  const auto [ping_subject, ping] = next_message(*sys);
  REQUIRE(ping_subject == "_INBOX.id");
  simdjson::dom::parser parser;
  const std::string server_id(std::string_view(parser.parse(ping)["server"]["id"]));

  // A wrong password.
  auto bad = std::make_unique<RawClient>("127.0.0.1", server->client_port());
  REQUIRE(bad->read_line(3s).rfind("INFO ", 0) == 0);
  bad->send("CONNECT {\"verbose\":false,\"name\":\"bad-one\",\"lang\":\"raw\",\"version\":\"0.1\","
            "\"user\":\"a\",\"pass\":\"wrong\"}\r\n");
  CHECK(bad->read_line(3s).rfind("-ERR 'Authorization Violation'", 0) == 0);
  const auto [subject, event] = next_message(*sys);
  INFO(event);
  REQUIRE(subject == "$SYS.SERVER." + server_id + ".CLIENT.AUTH.ERR");
  simdjson::dom::element e = parser.parse(event);
  CHECK(std::string_view(e["type"]) == "io.nats.server.advisory.v1.client_disconnect");
  CHECK(std::string_view(e["id"]).size() == 22);
  CHECK(std::string_view(e["server"]["id"]) == server_id);
  CHECK(std::string_view(e["client"]["acc"]) == "$G");  // not in an account yet
  CHECK(std::string_view(e["client"]["user"]) == "a");  // as the CONNECT named it
  CHECK(std::string_view(e["client"]["name"]) == "bad-one");
  CHECK(std::string_view(e["client"]["lang"]) == "raw");
  CHECK(std::string_view(e["client"]["ver"]) == "0.1");
  CHECK(std::string_view(e["client"]["host"]) == "127.0.0.1");
  CHECK(std::string_view(e["client"]["kind"]) == "Client");
  CHECK(e["client"]["start"].is_string());
  CHECK(e["client"]["stop"].is_string());
  CHECK(uint64_t(e["client"]["id"]) > 0);
  CHECK(int64_t(e["sent"]["msgs"]) == 0);
  CHECK(std::string_view(e["reason"]) == "Authentication Failure");

  // A first operation other than CONNECT while authorization is required.
  auto rude = std::make_unique<RawClient>("127.0.0.1", server->client_port());
  REQUIRE(rude->read_line(3s).rfind("INFO ", 0) == 0);
  rude->send("PUB x 1\r\nx\r\n");
  CHECK(rude->read_line(3s).rfind("-ERR 'Authorization Violation'", 0) == 0);
  const auto [subject2, event2] = next_message(*sys);
  INFO(event2);
  REQUIRE(subject2 == "$SYS.SERVER." + server_id + ".CLIENT.AUTH.ERR");
  e = parser.parse(event2);
  CHECK(std::string_view(e["client"]["acc"]) == "$G");
  CHECK(e["client"]["user"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(e["client"]["name"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(std::string_view(e["reason"]) == "Authentication Failure");

  // A client that passes gives none.
  auto good = login(*server, "a");
  sys->send("PING\r\n");
  CHECK(sys->read_line(3s) == "PONG\r\n");
}

TEST_CASE("system account: the statsz heartbeat on $SYS.SERVER.<id>.STATSZ", "[system-account]") {
  // nats-server sends its statsz 250 ms after start, then at twice the interval each time (up
  // to 30 s): within a few seconds of start a subscriber sees at least one.
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  sys->send("SUB $SYS.SERVER.*.STATSZ 1\r\nPING\r\n");
  REQUIRE(sys->read_line(3s) == "PONG\r\n");
  std::pair<std::string, std::string> got;
  for (int i = 0; i < 2 && got.first.empty(); ++i) got = next_message(*sys);  // 5 s each
  INFO(got.second);
  REQUIRE(got.first.rfind("$SYS.SERVER.", 0) == 0);
  simdjson::dom::parser parser;
  const simdjson::dom::element e = parser.parse(got.second);
  const std::string_view id = e["server"]["id"];
  CHECK(got.first == "$SYS.SERVER." + std::string(id) + ".STATSZ");
  CHECK(std::string_view(e["server"]["name"]) == "sys-test-" + kind);
  CHECK(int64_t(e["statsz"]["connections"]) >= 1);
  CHECK(e["statsz"]["start"].is_string());
  CHECK(e["statsz"]["received"]["msgs"].is_int64());
  CHECK(int64_t(e["statsz"]["mem"]) > 0);
}

TEST_CASE("system account: an account's connections going up and down send account_connections events",
          "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  sys->send("SUB $SYS.ACCOUNT.A.SERVER.CONNS 1\r\nSUB $SYS.SERVER.ACCOUNT.A.CONNS 2\r\nPING\r\n");
  REQUIRE(sys->read_line(3s) == "PONG\r\n");
  simdjson::dom::parser parser;
  // Both subjects, the old one first, with the same event.
  auto expect_events = [&](int64_t conns) {
    const auto [old_subject, old_event] = next_message(*sys);
    const auto [new_subject, new_event] = next_message(*sys);
    INFO(old_event << "\n" << new_event);
    REQUIRE(old_subject == "$SYS.SERVER.ACCOUNT.A.CONNS");
    REQUIRE(new_subject == "$SYS.ACCOUNT.A.SERVER.CONNS");
    simdjson::dom::parser old_parser;
    const std::string_view old_id = old_parser.parse(old_event)["id"];  // one event (Go's server seq differs)
    const simdjson::dom::element e = parser.parse(new_event);
    CHECK(std::string_view(e["id"]) == old_id);
    CHECK(std::string_view(e["type"]) == "io.nats.server.advisory.v1.account_connections");
    CHECK(std::string_view(e["id"]).size() == 22);
    CHECK(std::string_view(e["server"]["name"]) == "sys-test-" + kind);
    CHECK(std::string_view(e["acc"]) == "A");
    CHECK(int64_t(e["conns"]) == conns);
    CHECK(int64_t(e["leafnodes"]) == 0);
    CHECK(int64_t(e["total_conns"]) == conns);
    CHECK(e["sent"]["msgs"].is_int64());
    CHECK(e["received"]["bytes"].is_int64());
  };
  auto a1 = login(*server, "a");
  expect_events(1);
  auto a2 = login(*server, "a");
  expect_events(2);
  a2.reset();
  expect_events(1);
  a1.reset();
  expect_events(0);
  sys->send("PING\r\n");
  CHECK(sys->read_line(3s) == "PONG\r\n");  // nothing more
}

TEST_CASE("system account: a burst of connections ends with an event that counts them all", "[system-account]") {
  // Ours coalesces the events of changes within 100 ms (system_service.hpp); whatever the
  // number of events, the last one has the final count. nats-server sends one per change.
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  sys->send("SUB $SYS.ACCOUNT.A.SERVER.CONNS 1\r\nPING\r\n");
  REQUIRE(sys->read_line(3s) == "PONG\r\n");
  constexpr int kClients = 30;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(login(*server, "a"));
  simdjson::dom::parser parser;
  int events = 0;
  int64_t conns = -1;
  while (conns != kClients) {
    const auto [subject, event] = next_message(*sys);
    INFO(event);
    REQUIRE(subject == "$SYS.ACCOUNT.A.SERVER.CONNS");
    const int64_t n = parser.parse(event)["conns"];
    CHECK(n >= conns);  // never goes back while clients only come
    conns = n;
    ++events;
  }
  CHECK(events <= kClients);
}

TEST_CASE("system account: PING.VARZ, <id>.CONNZ with options, and bad options", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  auto a = login(*server, "a");
  a->send("SUB watched 1\r\nPING\r\n");
  REQUIRE(a->read_line(3s) == "PONG\r\n");
  sys->send("SUB _INBOX.z 1\r\n");
  send_request(*sys, "$SYS.REQ.SERVER.PING.VARZ", "_INBOX.z");
  auto [subject, payload] = next_message(*sys);
  REQUIRE(subject == "_INBOX.z");
  simdjson::dom::parser parser;
  simdjson::dom::element varz = parser.parse(payload);
  const std::string id{std::string_view(varz["server"]["id"])};
  CHECK(std::string_view(varz["data"]["server_id"]) == id);
  CHECK(std::string_view(varz["data"]["server_name"]) == "sys-test-" + kind);

  // One server by its id, with CONNZ's options: subscriptions listed.
  send_request(*sys, "$SYS.REQ.SERVER." + id + ".CONNZ", "_INBOX.z", "{\"subscriptions\":true,\"acc\":\"A\"}");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser2;
  simdjson::dom::element connz = parser2.parse(payload);
  CHECK(int64_t(connz["data"]["num_connections"]) == 1);
  simdjson::dom::array conns = connz["data"]["connections"];
  REQUIRE(conns.size() == 1);
  simdjson::dom::array subs = conns.at(0)["subscriptions_list"];
  REQUIRE(subs.size() == 1);
  CHECK(std::string_view(subs.at(0)) == "watched");

  // GATEWAYZ of every server: none configured.
  send_request(*sys, "$SYS.REQ.SERVER.PING.GATEWAYZ", "_INBOX.z", R"({"accounts":true})");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser5;
  simdjson::dom::element gatewayz = parser5.parse(payload);
  CHECK(std::string_view(gatewayz["data"]["server_id"]) == id);
  CHECK(gatewayz["data"]["outbound_gateways"].is_object());

  // Options of the wrong type: an error reply with code 400 and no data.
  send_request(*sys, "$SYS.REQ.SERVER.PING.CONNZ", "_INBOX.z", "{\"subscriptions\":\"yes\"}");
  std::tie(subject, payload) = next_message(*sys);
  simdjson::dom::parser parser3;
  simdjson::dom::element bad = parser3.parse(payload);
  CHECK(int64_t(bad["error"]["code"]) == 400);
  CHECK(bad["data"].error() == simdjson::NO_SUCH_FIELD);

  // What the endpoint itself refuses (not the body's decoding) is a 500.
  send_request(*sys, "$SYS.REQ.SERVER.PING.CONNZ", "_INBOX.z", R"({"sort":"no-such-order"})");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser6;
  simdjson::dom::element refused = parser6.parse(payload);
  CHECK(int64_t(refused["error"]["code"]) == 500);
  CHECK(refused["data"].is_null());  // Go's typed nil: present, null

  // A filter that names another server: no answer from this one. Replies come in order, so
  // the answer to a second, unfiltered request shows the first was left unanswered.
  sys->send("SUB _INBOX.other 2\r\n");
  send_request(*sys, "$SYS.REQ.SERVER.PING.VARZ", "_INBOX.other", "{\"server_name\":\"no-such-server\"}");
  // Nor to JSZ of leaders only, from a server without JetStream (no leader of anything).
  send_request(*sys, "$SYS.REQ.SERVER.PING.JSZ", "_INBOX.other", R"({"leader_only":true})");
  send_request(*sys, "$SYS.REQ.SERVER.PING.HEALTHZ", "_INBOX.z");
  std::tie(subject, payload) = next_message(*sys);
  CHECK(subject == "_INBOX.z");
  simdjson::dom::parser parser4;
  simdjson::dom::element health = parser4.parse(payload);
  CHECK(std::string_view(health["data"]["status"]) == "ok");
}

TEST_CASE("system account: $SYS.REQ.ACCOUNT.<account>.CONNZ and .SUBSZ see that account only", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  auto a = login(*server, "a");
  a->send("SUB watched 1\r\nSUB also.watched 2\r\nPING\r\n");
  REQUIRE(a->read_line(3s) == "PONG\r\n");
  sys->send("SUB _INBOX.acc 1\r\nSUB sys.own 2\r\n");

  // CONNZ: A's one client, whatever account the body names (the subject's wins).
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.CONNZ", "_INBOX.acc", R"({"subscriptions":true,"acc":"SYS"})");
  auto [subject, payload] = next_message(*sys);
  INFO(payload);
  REQUIRE(subject == "_INBOX.acc");
  simdjson::dom::parser parser;
  simdjson::dom::element connz = parser.parse(payload);
  CHECK(std::string_view(connz["server"]["name"]) == "sys-test-" + kind);
  CHECK(int64_t(connz["data"]["num_connections"]) == 1);
  simdjson::dom::array conns = connz["data"]["connections"];
  REQUIRE(conns.size() == 1);
  simdjson::dom::array listed = conns.at(0)["subscriptions_list"];
  CHECK(listed.size() == 2);  // the A client's two

  // SUBSZ: subscriptions listed without asking, all of them A's: ours and none of SYS's.
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.SUBSZ", "_INBOX.acc");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  REQUIRE(subject == "_INBOX.acc");
  simdjson::dom::parser parser2;
  simdjson::dom::element subsz = parser2.parse(payload);
  simdjson::dom::array subs = subsz["data"]["subscriptions_list"];
  std::vector<std::string> subjects;
  for (simdjson::dom::element sd : subs) {
    CHECK(std::string_view(sd["account"]) == "A");
    subjects.emplace_back(std::string_view(sd["subject"]));
  }
  CHECK(std::count(subjects.begin(), subjects.end(), "watched") == 1);
  CHECK(std::count(subjects.begin(), subjects.end(), "also.watched") == 1);
  CHECK(std::count(subjects.begin(), subjects.end(), "sys.own") == 0);

  // LEAFZ: no leaf nodes, on either server.
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.LEAFZ", "_INBOX.acc");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser5;
  simdjson::dom::element leafz = parser5.parse(payload);
  CHECK(int64_t(leafz["data"]["leafnodes"]) == 0);

  // An account this server does not have: the endpoint's empty answer, not an error.
  send_request(*sys, "$SYS.REQ.ACCOUNT.NOPE.CONNZ", "_INBOX.acc");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser3;
  simdjson::dom::element none = parser3.parse(payload);
  CHECK(int64_t(none["data"]["num_connections"]) == 0);
  CHECK(none["error"].error() == simdjson::NO_SUCH_FIELD);

  // A body that is not the endpoint's options: a 400 error reply.
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.SUBSZ", "_INBOX.acc", R"({"offset":"x"})");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser4;
  simdjson::dom::element bad = parser4.parse(payload);
  CHECK(int64_t(bad["error"]["code"]) == 400);
}

TEST_CASE("system account: $SYS.REQ.ACCOUNT.<account>.STATZ, PING.STATZ and .CONNS", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  auto a = login(*server, "a");
  a->send("PUB x 3\r\nabc\r\nPING\r\n");
  REQUIRE(a->read_line(3s) == "PONG\r\n");
  sys->send("SUB _INBOX.st 1\r\n");

  // One account: its statistics from this server.
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.STATZ", "_INBOX.st");
  auto [subject, payload] = next_message(*sys);
  INFO(payload);
  REQUIRE(subject == "_INBOX.st");
  simdjson::dom::parser parser;
  simdjson::dom::element st = parser.parse(payload);
  CHECK(std::string_view(st["server"]["name"]) == "sys-test-" + kind);
  simdjson::dom::array list = st["data"]["account_statz"];
  REQUIRE(list.size() == 1);
  CHECK(std::string_view(list.at(0)["acc"]) == "A");
  CHECK(int64_t(list.at(0)["conns"]) == 1);
  CHECK(int64_t(list.at(0)["received"]["msgs"]) == 1);
  CHECK(int64_t(list.at(0)["received"]["bytes"]) == 3);

  // Every account with connections here (A and SYS), none without.
  send_request(*sys, "$SYS.REQ.ACCOUNT.PING.STATZ", "_INBOX.st");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser2;
  std::vector<std::string> names;
  for (simdjson::dom::element e : simdjson::dom::array(parser2.parse(payload)["data"]["account_statz"])) {
    names.emplace_back(std::string_view(e["acc"]));
    CHECK(int64_t(e["conns"]) >= 1);
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"A", "SYS"});

  // An account without connections here gets no answer, unless unused ones are asked for.
  // Replies come in order: the second request's answer shows the first had none.
  send_request(*sys, "$SYS.REQ.ACCOUNT.NOPE.STATZ", "_INBOX.st");
  send_request(*sys, "$SYS.REQ.ACCOUNT.NOPE.STATZ", "_INBOX.st", R"({"include_unused":true})");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser3;
  CHECK(simdjson::dom::array(parser3.parse(payload)["data"]["account_statz"]).size() == 0);

  // CONNS: the account_connections event, to the requester.
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.CONNS", "_INBOX.st");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser4;
  simdjson::dom::element conns = parser4.parse(payload);
  CHECK(std::string_view(conns["type"]) == "io.nats.server.advisory.v1.account_connections");
  CHECK(std::string_view(conns["id"]).size() == 22);
  CHECK(conns["timestamp"].is_string());
  CHECK(std::string_view(conns["server"]["name"]) == "sys-test-" + kind);
  CHECK(std::string_view(conns["acc"]) == "A");
  CHECK(int64_t(conns["conns"]) == 1);
  CHECK(int64_t(conns["total_conns"]) == 1);
  CHECK(int64_t(conns["received"]["msgs"]) == 1);
  // A body naming another account, or an account without connections: no answer.
  // The answer to a third request comes first.
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.CONNS", "_INBOX.st", R"({"acc":"SYS"})");
  send_request(*sys, "$SYS.REQ.ACCOUNT.NOPE.CONNS", "_INBOX.st");
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.STATZ", "_INBOX.st");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser parser5;
  CHECK(parser5.parse(payload)["data"]["account_statz"].is_array());
}

TEST_CASE("system account: other accounts cannot reach the server requests", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kSystem);
  auto server = start(kind, conf);
  auto a = login(*server, "a");
  a->send("SUB _INBOX.a 1\r\n");
  send_request(*a, "$SYS.REQ.SERVER.PING", "_INBOX.a");
  const auto [subject, payload] = next_message(*a);
  CHECK(subject == "_INBOX.a");
  CHECK(payload.rfind("HMSG NATS/1.0 503", 0) == 0);  // no responders in account A
}

TEST_CASE("system account: configuration", "[system-account]") {
  // Not a configured account (nats-server finds this at start, not with -t).
  SysConf missing("accounts { A { users = [ {user: a, password: p} ] } }\nsystem_account: NOPE\n");
  std::string out;
  CHECK(run_command({ServerProcess::forest_binary(), "-c", missing.path, "-t"}, &out) != 0);
  CHECK(out.find("error resolving system account: account missing") != std::string::npos);
  SysConf not_string("system_account: 5\n");
  CHECK(run_command({ServerProcess::forest_binary(), "-c", not_string.path, "-t"}, &out) != 0);
  CHECK(out.find("system account name must be a string") != std::string::npos);
  // "$SYS" needs no accounts block, and no_system_account is accepted.
  SysConf sys_default("system_account: \"$SYS\"\nno_system_account: false\n");
  CHECK(run_command({ServerProcess::forest_binary(), "-c", sys_default.path, "-t"}, &out) == 0);
}

// What the system account tells about accounts: /accountz, $SYS.REQ.SERVER.PING.ACCOUNTZ,
// $SYS.REQ.ACCOUNT.<account>.INFO and .JSZ, and the system imports through which any account
// asks $SYS.REQ.SERVER.PING.CONNZ, $SYS.REQ.ACCOUNT.PING.CONNZ and .PING.STATZ about itself.
// Each case that can runs against forest-server and nats-server 2.9.10 with the same config;
// the same expectations hold for both.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "http_get.hpp"
#include "sys_request.hpp"

using namespace forest::testing;
using namespace forest::testing::sys;
using namespace std::chrono_literals;

namespace {

const char* kAccounts = R"(
accounts {
  SYS { users = [ {user: sys, password: p} ] }
  A {
    users = [ {user: a, password: p} ]
    exports = [ {stream: "a.>"}, {service: "svc.a", accounts: [B], response_type: stream} ]
  }
  B {
    users = [ {user: b, password: p} ]
    imports = [ {stream: {account: A, subject: "a.>"}, prefix: "fromA"}, {service: {account: A, subject: "svc.a"}, to: "asvc"} ]
  }
}
system_account: SYS
)";

std::string text(simdjson::dom::element e, const char* key) {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string("<none>");
}

// An export or import as one line, for comparing lists whose order Go does not fix.
std::set<std::string> lines_of(simdjson::dom::element detail, const char* key) {
  std::set<std::string> out;
  simdjson::dom::array list;
  if (detail[key].get(list) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element e : list) {
    // Built with append: GCC 12 reports a false -Wrestrict for chains of `string + "..."`.
    std::string line = text(e, "type");
    line.append(" ").append(text(e, "subject"));
    if (std::string_view(key) == "imports") {
      line.append(" from ").append(text(e, "account")).append(" to ").append(text(e, "to"));
      line.append(" local ").append(text(e, "local_subject"));
    } else {
      line.append(" ").append(text(e, "response_type"));
      simdjson::dom::array approved;
      if (e["approved_accounts"].get(approved) == simdjson::SUCCESS) {
        for (simdjson::dom::element a : approved) line.append(" +").append(std::string_view(a));
      }
    }
    out.insert(line);
  }
  return out;
}

}  // namespace

TEST_CASE("system account: /accountz lists the accounts and shows one in detail", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kAccounts);
  auto server = start(kind, conf, {"-m", "-1"});
  auto a = login(*server, "a");

  simdjson::dom::parser p1;
  const std::string list_body = http_get(server->http_port(), "/accountz");
  INFO(list_body);
  simdjson::dom::element list = p1.parse(list_body);
  CHECK(text(list, "system_account") == "SYS");
  CHECK(std::string_view(list["server_id"]).size() == 56);
  std::set<std::string> names;
  simdjson::dom::array listed = list["accounts"];
  for (simdjson::dom::element n : listed) names.insert(std::string(std::string_view(n)));
  CHECK(names == std::set<std::string>{"$G", "A", "B", "SYS"});
  CHECK(list["account_detail"].error() == simdjson::NO_SUCH_FIELD);

  simdjson::dom::parser p2;
  const std::string a_body = http_get(server->http_port(), "/accountz?acc=A");
  INFO(a_body);
  simdjson::dom::element detail = p2.parse(a_body)["account_detail"];
  CHECK(text(detail, "account_name") == "A");
  CHECK(detail["is_system"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(detail["complete"].get_bool().value());
  CHECK_FALSE(detail["expired"].get_bool().value());
  CHECK_FALSE(detail["jetstream_enabled"].get_bool().value());
  CHECK(int64_t(detail["client_connections"]) == 1);
  CHECK(int64_t(detail["leafnode_connections"]) == 0);
  // At least the three system imports' (each server adds its own for imports and exports).
  CHECK(int64_t(detail["subscriptions"]) >= 3);
  CHECK(int64_t(detail["sublist_stats"]["num_subscriptions"]) == int64_t(detail["subscriptions"]));
  CHECK(lines_of(detail, "exports") == std::set<std::string>{"service svc.a Streamed +B", "stream a.> <none>"});
  // The system imports of every account other than the system account.
  CHECK(lines_of(detail, "imports") ==
        std::set<std::string>{
            "service $SYS.REQ.ACCOUNT.PING.CONNZ from SYS to $SYS.REQ.ACCOUNT.A.CONNZ local <none>",
            "service $SYS.REQ.ACCOUNT.PING.STATZ from SYS to $SYS.REQ.ACCOUNT.A.STATZ local <none>",
            "service $SYS.REQ.SERVER.PING.CONNZ from SYS to $SYS.REQ.ACCOUNT.A.CONNZ local <none>",
        });

  simdjson::dom::parser p3;
  const std::string b_body = http_get(server->http_port(), "/accountz?acc=B");
  INFO(b_body);
  simdjson::dom::element b = p3.parse(b_body)["account_detail"];
  CHECK(int64_t(b["client_connections"]) == 0);
  CHECK(b["exports"].error() == simdjson::NO_SUCH_FIELD);
  const std::set<std::string> b_imports = lines_of(b, "imports");
  CHECK(b_imports.count("stream a.> from A to <none> local fromA.a.>") == 1);
  CHECK(b_imports.count("service asvc from A to svc.a local <none>") == 1);
  CHECK(b_imports.size() == 5);

  simdjson::dom::parser p4;
  const std::string sys_body = http_get(server->http_port(), "/accountz?acc=SYS");
  INFO(sys_body);
  simdjson::dom::element sys = p4.parse(sys_body)["account_detail"];
  CHECK(sys["is_system"].get_bool().value());
  CHECK(sys["imports"].error() == simdjson::NO_SUCH_FIELD);
  // nats-server also exports $SYS.DEBUG.SUBSCRIBERS, which forest-server does not serve.
  const std::set<std::string> sys_exports = lines_of(sys, "exports");
  CHECK(sys_exports.count("service $SYS.REQ.ACCOUNT.*.CONNZ Streamed") == 1);
  CHECK(sys_exports.count("service $SYS.REQ.ACCOUNT.*.STATZ Streamed") == 1);

  CHECK(http_get(server->http_port(), "/accountz?acc=NOPE") == "Account NOPE does not exist");
}

TEST_CASE("system account: $SYS.REQ.ACCOUNT.<account>.INFO and PING.ACCOUNTZ", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kAccounts);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  auto a1 = login(*server, "a");
  auto a2 = login(*server, "a");
  sys->send("SUB _INBOX.i 1\r\n");

  send_request(*sys, "$SYS.REQ.ACCOUNT.A.INFO", "_INBOX.i");
  auto [subject, payload] = next_message(*sys);
  INFO(payload);
  REQUIRE(subject == "_INBOX.i");
  simdjson::dom::parser p1;
  simdjson::dom::element info = p1.parse(payload);
  CHECK(std::string_view(info["server"]["name"]) == "sys-test-" + kind);
  CHECK(text(info["data"], "account_name") == "A");
  CHECK(int64_t(info["data"]["client_connections"]) == 2);
  CHECK(lines_of(info["data"], "exports").count("service svc.a Streamed +B") == 1);

  send_request(*sys, "$SYS.REQ.ACCOUNT.NOPE.INFO", "_INBOX.i");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser p2;
  simdjson::dom::element missing = p2.parse(payload);
  CHECK(int64_t(missing["error"]["code"]) == 500);
  CHECK(text(missing["error"], "description") == "Account NOPE does not exist");
  CHECK(missing["data"].is_null());

  send_request(*sys, "$SYS.REQ.SERVER.PING.ACCOUNTZ", "_INBOX.i");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser p3;
  simdjson::dom::element all = p3.parse(payload);
  CHECK(text(all["data"], "system_account") == "SYS");
  simdjson::dom::array accounts = all["data"]["accounts"];
  CHECK(accounts.size() == 4);

  send_request(*sys, "$SYS.REQ.SERVER.PING.ACCOUNTZ", "_INBOX.i", R"({"account":"B"})");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser p4;
  CHECK(text(p4.parse(payload)["data"]["account_detail"], "account_name") == "B");
}

TEST_CASE("system account: any account asks for its own connections and statistics", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  SysConf conf(kAccounts);
  auto server = start(kind, conf);
  auto a = login(*server, "a");
  auto a2 = login(*server, "a");
  auto b = login(*server, "b");
  a->send("SUB _INBOX.a 1\r\n");
  b->send("SUB _INBOX.b 1\r\n");

  // Both of A's connections, not B's (nor the system account's: there is none here).
  for (const char* asked : {"$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"}) {
    INFO(asked);
    send_request(*a, asked, "_INBOX.a");
    const auto [subject, payload] = next_message(*a);
    INFO(payload);
    REQUIRE(subject == "_INBOX.a");
    simdjson::dom::parser p;
    simdjson::dom::element connz = p.parse(payload);
    CHECK(int64_t(connz["data"]["num_connections"]) == 2);
    CHECK(std::string_view(connz["server"]["name"]) == "sys-test-" + kind);
  }
  send_request(*b, "$SYS.REQ.SERVER.PING.CONNZ", "_INBOX.b");
  auto [subject, payload] = next_message(*b);
  INFO(payload);
  simdjson::dom::parser p1;
  CHECK(int64_t(p1.parse(payload)["data"]["num_connections"]) == 1);

  send_request(*a, "$SYS.REQ.ACCOUNT.PING.STATZ", "_INBOX.a");
  std::tie(subject, payload) = next_message(*a);
  INFO(payload);
  simdjson::dom::parser p2;
  simdjson::dom::array statz = p2.parse(payload)["data"]["account_statz"];
  REQUIRE(statz.size() == 1);
  CHECK(text(statz.at(0), "acc") == "A");
  CHECK(int64_t(statz.at(0)["conns"]) == 2);

  // Only these are imported: the server's other requests stay out of reach.
  send_request(*a, "$SYS.REQ.SERVER.PING.VARZ", "_INBOX.a");
  std::tie(subject, payload) = next_message(*a);
  CHECK(payload.rfind("HMSG NATS/1.0 503", 0) == 0);
}

TEST_CASE("system account: $SYS.REQ.ACCOUNT.<account>.JSZ", "[system-account]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const auto dir = std::filesystem::temp_directory_path() / ("forest-sys-js-" + std::to_string(::getpid()) + kind);
  SysConf conf(kAccounts);
  auto server = start(kind, conf, {"-js", "-sd", dir.string()});
  auto sys = login(*server, "sys");
  sys->send("SUB _INBOX.j 1\r\n");
  // JetStream is not on for A (no `jetstream` in its config), on either server.
  send_request(*sys, "$SYS.REQ.ACCOUNT.A.JSZ", "_INBOX.j");
  auto [subject, payload] = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser p1;
  simdjson::dom::element off = p1.parse(payload);
  CHECK(int64_t(off["error"]["code"]) == 500);
  CHECK(text(off["error"], "description") == "account \"A\" not jetstream enabled");
  CHECK(off["data"].is_null());
  send_request(*sys, "$SYS.REQ.ACCOUNT.NOPE.JSZ", "_INBOX.j");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser p2;
  CHECK(text(p2.parse(payload)["error"], "description") == "account \"NOPE\" not found");
  server->stop();
  std::filesystem::remove_all(dir);
}

TEST_CASE("system account: JSZ of the global account, per account and for the server", "[system-account]") {
  // forest-server only: its JetStream serves $G, which nats-server's does not when accounts
  // are configured.
  const auto dir = std::filesystem::temp_directory_path() / ("forest-sys-jsg-" + std::to_string(::getpid()));
  SysConf conf(std::string(kAccounts) + "authorization { users = [ {user: g, password: p} ] }\n");
  auto server = start("forest", conf, {"-js", "-sd", dir.string()});
  auto g = login(*server, "g");
  g->send("SUB _INBOX.g 1\r\n");
  send_request(*g, "$JS.API.STREAM.CREATE.S", "_INBOX.g", R"({"name":"S","subjects":["s.>"],"storage":"file"})");
  auto [subject, payload] = next_message(*g);
  INFO(payload);
  REQUIRE(payload.find("\"error\"") == std::string::npos);
  g->send("PUB s.1 2\r\nhi\r\nPING\r\n");
  REQUIRE(g->read_line(3s) == "PONG\r\n");

  auto sys = login(*server, "sys");
  sys->send("SUB _INBOX.j 1\r\n");
  send_request(*sys, "$SYS.REQ.ACCOUNT.$G.JSZ", "_INBOX.j", R"({"streams":true,"config":true})");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser p1;
  simdjson::dom::element detail = p1.parse(payload)["data"];
  CHECK(text(detail, "name") == "$G");
  simdjson::dom::array streams = detail["stream_detail"];
  REQUIRE(streams.size() == 1);
  CHECK(text(streams.at(0), "name") == "S");
  CHECK(text(streams.at(0)["config"], "name") == "S");
  CHECK(int64_t(streams.at(0)["state"]["messages"]) == 1);
  // Without "streams" the detail has none (JszAccount: no implied options).
  send_request(*sys, "$SYS.REQ.ACCOUNT.$G.JSZ", "_INBOX.j", R"({"consumer":true})");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser p2;
  CHECK(p2.parse(payload)["data"]["stream_detail"].error() == simdjson::NO_SUCH_FIELD);
  // The server's JSZ, asked of the system account, answers at once too (the snapshot is taken
  // on the thread the request runs on).
  send_request(*sys, "$SYS.REQ.SERVER.PING.JSZ", "_INBOX.j");
  std::tie(subject, payload) = next_message(*sys);
  INFO(payload);
  simdjson::dom::parser p3;
  simdjson::dom::element jsz = p3.parse(payload)["data"];
  CHECK(int64_t(jsz["streams"]) == 1);
  CHECK(int64_t(jsz["messages"]) == 1);
  server->stop();
  std::filesystem::remove_all(dir);
}

TEST_CASE("system account: a reload that changes a password sends an auth error, one that drops a user does not",
          "[system-account]") {
  // nats-server 2.9.10's reloadAuthorization: a client whose user is gone is closed as one
  // that moved account ("Client Closed", no error, no AUTH.ERR); one whose user stays but no
  // longer passes is an authorization violation, with the AUTH.ERR event.
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  // The name is in the file too: nats-server refuses a reload whose file lacks the -n name.
  const std::string before = "server_name: sys-test-" + kind + R"(
accounts {
  SYS { users = [ {user: sys, password: p} ] }
  A { users = [ {user: a, password: p}, {user: changed, password: p}, {user: gone, password: p}, {user: moved, password: p} ] }
  B { users = [ {user: b, password: p} ] }
}
system_account: SYS
)";
  SysConf conf(before);
  auto server = start(kind, conf);
  auto sys = login(*server, "sys");
  sys->send("SUB $SYS.SERVER.*.CLIENT.AUTH.ERR 1\r\nSUB $SYS.ACCOUNT.A.DISCONNECT 2\r\nPING\r\n");
  REQUIRE(sys->read_line(3s) == "PONG\r\n");
  auto stays = login(*server, "a");
  auto changed = login(*server, "changed");
  auto dropped = login(*server, "gone");
  auto moved = login(*server, "moved");

  std::string after = before;
  const std::string gone_entry = ", {user: gone, password: p}";
  after.replace(after.find(gone_entry), gone_entry.size(), "");
  const std::string old_password = "{user: changed, password: p}";
  after.replace(after.find(old_password), old_password.size(), "{user: changed, password: q}");
  // Moved to B with a new password: moved first, so closed to reconnect, not a violation.
  const std::string moved_entry = ", {user: moved, password: p}";
  after.replace(after.find(moved_entry), moved_entry.size(), "");
  const std::string b_user = "{user: b, password: p}";
  after.replace(after.find(b_user), b_user.size(), "{user: b, password: p}, {user: moved, password: q}");
  std::ofstream(conf.path, std::ios::trunc) << after;
  server->send_signal(SIGHUP);

  // Four events, in an order neither server fixes: three disconnects, one auth error.
  std::vector<std::string> auth_errors, disconnects;
  for (int i = 0; i < 4; ++i) {
    const auto [subject, event] = next_message(*sys);
    INFO(event);
    INFO(server->log());
    REQUIRE(!subject.empty());
    simdjson::dom::parser parser;
    simdjson::dom::element e = parser.parse(event);
    std::string line = text(e["client"], "user");
    line.append(" ").append(text(e, "reason"));
    (subject.ends_with(".CLIENT.AUTH.ERR") ? auth_errors : disconnects).push_back(line);
    if (subject.ends_with(".CLIENT.AUTH.ERR")) CHECK(std::string_view(e["client"]["acc"]) == "A");
  }
  std::sort(disconnects.begin(), disconnects.end());
  CHECK(auth_errors == std::vector<std::string>{"changed Authentication Failure"});
  CHECK(disconnects ==
        std::vector<std::string>{"changed Authentication Failure", "gone Client Closed", "moved Client Closed"});
  CHECK(changed->read_line(3s).rfind("-ERR 'Authorization Violation'", 0) == 0);
  // The user that stays is still served, and no other event came.
  stays->send("PING\r\n");
  CHECK(stays->read_line(3s) == "PONG\r\n");
  sys->send("PING\r\n");
  CHECK(sys->read_line(3s) == "PONG\r\n");
}

// Server behaviour beyond single protocol exchanges: INFO, monitoring, slow consumers,
// reload, lame-duck mode, signals, startup errors. Where nats-server's behaviour is the
// reference, the same check runs against it.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "http_get.hpp"
#include "run_command.hpp"
#include "raw_client.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<ServerProcess> start(const std::string& which, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::start(which == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(), args);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("forest-srv-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::set<std::string> json_keys(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  std::set<std::string> keys;
  if (parser.parse(json).get(obj) != simdjson::SUCCESS) return keys;
  for (auto field : obj) keys.insert(std::string(field.key));
  return keys;
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  simdjson::dom::element e;
  REQUIRE(p.parse(json).get(e) == simdjson::SUCCESS);
  return e;
}

std::string info_json(int port) {
  RawClient c("127.0.0.1", port);
  const std::string line = c.read_line(3s);
  REQUIRE(line.rfind("INFO ", 0) == 0);
  return line.substr(5, line.size() - 5 - 3);  // drop "INFO " and " \r\n"
}

// A raw connection that has read its INFO line.
std::unique_ptr<RawClient> open_client(int port) {
  auto c = std::make_unique<RawClient>("127.0.0.1", port);
  REQUIRE(c->read_line(3s).rfind("INFO ", 0) == 0);
  return c;
}

// Rewrites the config file and reloads; waits until the server says it is done.
void reload_with(ServerProcess& server, const std::string& conf, const std::string& text) {
  const std::size_t before = server.log().size();
  std::ofstream(conf, std::ios::trunc) << text;
  server.send_signal(SIGHUP);
  for (int i = 0; i < 250; ++i) {
    if (server.log().find("Reloaded server configuration", before) != std::string::npos) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("no reload in the log: " << server.log().substr(before));
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}


}  // namespace

TEST_CASE("INFO carries the same fields as nats-server's", "[server]") {
  auto ours = start("forest", {"--user", "u", "--pass", "p"});
  auto theirs = start("nats", {"--user", "u", "--pass", "p"});
  const std::string a = info_json(ours->client_port());
  const std::string b = info_json(theirs->client_port());
  std::set<std::string> ka = json_keys(a), kb = json_keys(b);
  kb.erase("git_commit");  // absent in both when not set; tolerated either way
  ka.erase("git_commit");
  CHECK(ka == kb);
  simdjson::dom::parser p1, p2;
  auto ea = parse(p1, a), eb = parse(p2, b);
  for (const char* field : {"version", "proto", "headers", "max_payload", "auth_required", "host", "client_ip"}) {
    INFO("field " << field);
    CHECK(simdjson::to_string(ea[field]) == simdjson::to_string(eb[field]));
  }
  std::string_view id;
  REQUIRE(ea["server_id"].get(id) == simdjson::SUCCESS);
  CHECK(id.size() == 56);
  CHECK(id[0] == 'N');
}

TEST_CASE("monitoring endpoints answer with nats-server's field names", "[server][monitor]") {
  auto ours = start("forest", {"-m", "-1"});
  auto theirs = start("nats", {"-m", "-1"});
  // One client with two subscriptions on each, so connz and subsz have something to show.
  RawClient ca("127.0.0.1", ours->client_port()), cb("127.0.0.1", theirs->client_port());
  for (RawClient* c : {&ca, &cb}) {
    c->read_line(3s);
    c->send("CONNECT {\"verbose\":false,\"name\":\"probe\",\"lang\":\"raw\",\"version\":\"1\"}\r\nSUB a.b 1\r\nSUB q.> grp 2\r\nPUB a.b 2\r\nhi\r\nPING\r\n");
    REQUIRE(c->read_exactly(std::string("MSG a.b 1 2\r\nhi\r\nPONG\r\n").size(), 3s) == "MSG a.b 1 2\r\nhi\r\nPONG\r\n");
  }
  SECTION("/varz") {
    const auto ka = json_keys(http_get(ours->http_port(), "/varz"));
    const auto kb = json_keys(http_get(theirs->http_port(), "/varz"));
    for (const char* key : {"server_id", "server_name", "version", "proto", "host", "port", "max_connections",
                            "ping_interval", "ping_max", "http_host", "http_port", "auth_timeout", "max_control_line",
                            "max_payload", "max_pending", "write_deadline", "start", "now", "uptime", "mem", "cores",
                            "cpu", "connections", "total_connections", "routes", "in_msgs", "out_msgs", "in_bytes",
                            "out_bytes", "slow_consumers", "subscriptions", "http_req_stats"}) {
      INFO("key " << key);
      CHECK(kb.contains(key));  // the reference has it...
      CHECK(ka.contains(key));  // ...and so do we
    }
    simdjson::dom::parser p;
    auto v = parse(p, http_get(ours->http_port(), "/varz"));
    CHECK(int64_t(v["connections"]) == 1);
    CHECK(int64_t(v["in_msgs"]) == 1);
    CHECK(int64_t(v["out_msgs"]) == 1);
    CHECK(int64_t(v["subscriptions"]) == 2);
    CHECK(int64_t(v["max_payload"]) == 1048576);
  }
  SECTION("/connz with subs, sort, limit and offset") {
    simdjson::dom::parser p1, p2;
    const std::string body_a = http_get(ours->http_port(), "/connz?subs=1");
    const std::string body_b = http_get(theirs->http_port(), "/connz?subs=1");
    auto a = parse(p1, body_a), b = parse(p2, body_b);
    CHECK(json_keys(body_a) == json_keys(body_b));
    simdjson::dom::array conns_a = a["connections"], conns_b = b["connections"];
    REQUIRE(conns_a.size() == 1);
    REQUIRE(conns_b.size() == 1);
    simdjson::dom::element ca0 = conns_a.at(0), cb0 = conns_b.at(0);
    for (const char* key : {"name", "lang", "version", "subscriptions", "in_msgs", "out_msgs", "in_bytes", "out_bytes"}) {
      INFO("key " << key);
      CHECK(simdjson::to_string(ca0[key]) == simdjson::to_string(cb0[key]));
    }
    simdjson::dom::array subs = ca0["subscriptions_list"];
    CHECK(subs.size() == 2);
    const std::string detail = http_get(ours->http_port(), "/connz?subs=detail&sort=msgs_to&limit=1&offset=0");
    simdjson::dom::parser p3;
    auto d = parse(p3, detail);
    CHECK(int64_t(d["limit"]) == 1);
    simdjson::dom::array dc = d["connections"];
    REQUIRE(dc.size() == 1);
    simdjson::dom::array sd = dc.at(0)["subscriptions_list_detail"];
    CHECK(sd.size() == 2);
    simdjson::dom::parser p4;
    auto beyond = parse(p4, http_get(ours->http_port(), "/connz?offset=5"));
    CHECK(simdjson::dom::array(beyond["connections"]).size() == 0);
    CHECK(int64_t(beyond["total"]) == 1);
  }
  SECTION("/connz state=closed keeps closed connections with a reason") {
    {
      RawClient gone("127.0.0.1", ours->client_port());
      gone.read_line(3s);
      gone.send("CONNECT {\"verbose\":false,\"name\":\"leaver\"}\r\nPING\r\n");
      REQUIRE(gone.read_exactly(6, 3s) == "PONG\r\n");
    }
    std::string body;
    for (int i = 0; i < 50; ++i) {
      body = http_get(ours->http_port(), "/connz?state=closed");
      if (body.find("leaver") != std::string::npos) break;
      std::this_thread::sleep_for(20ms);
    }
    CHECK(body.find("\"reason\":\"Client Closed\"") != std::string::npos);
  }
  SECTION("/subsz, /routez, /healthz") {
    const std::string sa = http_get(ours->http_port(), "/subsz?subs=1");
    const std::string sb = http_get(theirs->http_port(), "/subsz?subs=1");
    for (const char* key : {"num_subscriptions", "num_cache", "num_inserts", "num_removes", "num_matches",
                            "cache_hit_rate", "subscriptions_list"}) {
      INFO("key " << key);
      CHECK(json_keys(sb).contains(key));
      CHECK(json_keys(sa).contains(key));
    }
    simdjson::dom::parser p;
    auto s = parse(p, sa);
    CHECK(int64_t(s["num_subscriptions"]) == 2);
    CHECK(http_get(ours->http_port(), "/healthz") == "{\"status\":\"ok\"}");
    const auto ra = json_keys(http_get(ours->http_port(), "/routez"));
    const auto rb = json_keys(http_get(theirs->http_port(), "/routez"));
    for (const char* key : {"server_id", "now", "num_routes", "routes"}) {
      CHECK(rb.contains(key));
      CHECK(ra.contains(key));
    }
  }
  SECTION("bad requests get an error, not a crash") {
    CHECK(http_get(ours->http_port(), "/connz?sort=bogus").find("error") != std::string::npos);
    CHECK(http_get(ours->http_port(), "/nope").find("not found") != std::string::npos);
    RawClient junk("127.0.0.1", ours->http_port());
    junk.send("NOT HTTP AT ALL\r\n\r\n");
    junk.read_until_closed(2s);
    CHECK(http_get(ours->http_port(), "/healthz") == "{\"status\":\"ok\"}");
  }
}

TEST_CASE("a slow consumer is cut off without stalling others", "[server]") {
  const std::string conf = temp_path("slow.conf");
  std::ofstream(conf) << "max_pending: 256KB\nmax_payload: 64KB\n";
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-c", conf, "-m", "-1"});
  // The slow one subscribes and never reads; its socket buffers fill up.
  RawClient slow("127.0.0.1", server->client_port());
  slow.read_line(3s);
  slow.send("CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n");
  REQUIRE(slow.read_exactly(6, 3s) == "PONG\r\n");
  RawClient healthy("127.0.0.1", server->client_port());
  healthy.read_line(3s);
  healthy.send("CONNECT {\"verbose\":false}\r\nSUB other 1\r\nPING\r\n");
  REQUIRE(healthy.read_exactly(6, 3s) == "PONG\r\n");
  RawClient pub("127.0.0.1", server->client_port());
  pub.read_line(3s);
  pub.send("CONNECT {\"verbose\":false}\r\n");
  const std::string payload(32 * 1024, 'x');
  std::string batch;
  for (int i = 0; i < 32; ++i) batch += "PUB flood 32768\r\n" + payload + "\r\n";
  for (int round = 0; round < 200; ++round) pub.send(batch);  // 200 MiB offered
  pub.send("PUB other 2\r\nok\r\nPING\r\n");
  // The publisher is never blocked behind the slow one, and the healthy subscriber gets its message.
  CHECK(pub.read_exactly_answering_pings(6, 20s) == "PONG\r\n");
  CHECK(healthy.read_exactly_answering_pings(std::string("MSG other 1 2\r\nok\r\n").size(), 10s) ==
        "MSG other 1 2\r\nok\r\n");
  simdjson::dom::parser p;
  int64_t slow_consumers = 0;
  for (int i = 0; i < 100 && slow_consumers == 0; ++i) {
    auto v = parse(p, http_get(server->http_port(), "/varz"));
    slow_consumers = int64_t(v["slow_consumers"]);
    if (slow_consumers == 0) std::this_thread::sleep_for(50ms);
  }
  CHECK(slow_consumers >= 1);
  std::filesystem::remove(conf);
}

TEST_CASE("SIGHUP reloads what can change and refuses what cannot", "[server][reload]") {
  const std::string conf = temp_path("reload.conf");
  std::ofstream(conf) << "max_payload: 1000\n";
  auto server = start("forest", {"-c", conf});
  CHECK(info_json(server->client_port()).find("\"max_payload\":1000") != std::string::npos);

  std::ofstream(conf) << "max_payload: 2000\ndebug: true\nauthorization { token: abc }\n";
  server->send_signal(SIGHUP);
  REQUIRE(server->wait_for_log("Reloaded server configuration", 5s));
  CHECK(server->log().find("Reloaded: max_payload = 2000") != std::string::npos);
  const std::string info = info_json(server->client_port());
  CHECK(info.find("\"max_payload\":2000") != std::string::npos);
  CHECK(info.find("\"auth_required\":true") != std::string::npos);

  // A server name change cannot be applied: refused, and the server keeps serving.
  std::ofstream(conf) << "max_payload: 2000\nserver_name: renamed\nauthorization { token: abc }\n";
  server->send_signal(SIGHUP);
  REQUIRE(server->wait_for_log("config reload not supported for server_name", 5s));
  RawClient c("127.0.0.1", server->client_port());
  c.read_line(3s);
  c.send("CONNECT {\"verbose\":false,\"auth_token\":\"abc\"}\r\nPING\r\n");
  CHECK(c.read_exactly(6, 3s) == "PONG\r\n");

  // A broken file is reported and nothing changes.
  std::ofstream(conf) << "max_payload: [\n";
  server->send_signal(SIGHUP);
  REQUIRE(server->wait_for_log("Failed to reload server configuration: " + conf + ":", 5s));
  CHECK(server->running());
  CHECK(server->stop() == 0);
  std::filesystem::remove(conf);
}

TEST_CASE("reload disconnects clients whose credentials no longer pass", "[server][reload]") {
  // As nats-server 2.9.10 (compared in system-account-tests): a password that changed is an
  // authorization violation; a user that is gone is closed without an error.
  const std::string conf = temp_path("auth-reload.conf");
  std::ofstream(conf) << "authorization { users = [ {user: a, password: pa}, {user: b, password: pb}, "
                         "{user: c, password: pc} ] }\n";
  auto server = start("forest", {"-c", conf});
  RawClient a("127.0.0.1", server->client_port()), b("127.0.0.1", server->client_port()),
      c("127.0.0.1", server->client_port());
  a.read_line(3s);
  b.read_line(3s);
  c.read_line(3s);
  a.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"pa\"}\r\nPING\r\n");
  b.send("CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"pb\"}\r\nPING\r\n");
  c.send("CONNECT {\"verbose\":false,\"user\":\"c\",\"pass\":\"pc\"}\r\nPING\r\n");
  REQUIRE(a.read_exactly(6, 3s) == "PONG\r\n");
  REQUIRE(b.read_exactly(6, 3s) == "PONG\r\n");
  REQUIRE(c.read_exactly(6, 3s) == "PONG\r\n");
  std::ofstream(conf) << "authorization { users = [ {user: a, password: pa}, {user: c, password: new} ] }\n";
  server->send_signal(SIGHUP);
  CHECK(b.read_until_closed(5s).empty());
  CHECK(c.read_until_closed(5s) == "-ERR 'Authorization Violation'\r\n");
  a.send("PING\r\n");
  CHECK(a.read_exactly(6, 3s) == "PONG\r\n");
  std::filesystem::remove(conf);
}

TEST_CASE("lame-duck mode tells clients, closes them and exits", "[server][ldm]") {
  const std::string conf = temp_path("ldm.conf");
  std::ofstream(conf) << "lame_duck_grace_period: \"200ms\"\nlame_duck_duration: \"30s\"\n";
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-c", conf});
  RawClient c("127.0.0.1", server->client_port());
  c.read_line(3s);
  c.send("CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
  REQUIRE(c.read_exactly(6, 3s) == "PONG\r\n");
  server->send_signal(SIGUSR2);
  const std::string info = c.read_line(5s);
  CHECK(info.rfind("INFO {", 0) == 0);
  CHECK(count_of(info, "\"ldm\"") == 1);  // once: a JSON object with a key twice is not valid
  CHECK(info.find("\"ldm\":true") != std::string::npos);
  c.read_until_closed(10s);
  CHECK(c.peer_closed());
  // New connections are refused, then the process exits on its own.
  for (int i = 0; i < 200 && server->running(); ++i) std::this_thread::sleep_for(50ms);
  CHECK_FALSE(server->running());
  std::filesystem::remove(conf);
}

TEST_CASE("SIGTERM shuts down gracefully: clients get their data, the pid file goes", "[server]") {
  const std::string pid_file = temp_path("server.pid");
  auto server = start("forest", {"-P", pid_file});
  REQUIRE(std::filesystem::exists(pid_file));
  std::ifstream pf(pid_file);
  pid_t written = 0;
  pf >> written;
  CHECK(written == server->pid());
  RawClient c("127.0.0.1", server->client_port());
  c.read_line(3s);
  c.send("CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPUB x 1\r\na\r\nPING\r\n");
  CHECK(c.read_exactly(std::string("MSG x 1 1\r\na\r\nPONG\r\n").size(), 3s) == "MSG x 1 1\r\na\r\nPONG\r\n");
  CHECK(server->stop() == 0);
  CHECK(c.read_until_closed(3s).empty());
  CHECK(c.peer_closed());
  CHECK_FALSE(std::filesystem::exists(pid_file));
}

TEST_CASE("--signal reload=<pid> reaches a running server", "[server]") {
  const std::string conf = temp_path("signal.conf");
  std::ofstream(conf) << "debug: false\n";
  auto server = start("forest", {"-c", conf});
  std::ofstream(conf) << "debug: true\n";
  std::string out;
  CHECK(run_command({ServerProcess::forest_binary(), "--signal", "reload=" + std::to_string(server->pid())}, &out) == 0);
  CHECK(server->wait_for_log("Reloaded: debug = true", 5s));
  std::filesystem::remove(conf);
}

TEST_CASE("startup errors are clear and exit non-zero", "[server]") {
  std::string out;
  const std::string conf = temp_path("broken.conf");
  std::ofstream(conf) << "port: 4222\ncolour: blue\n";
  CHECK(run_command({ServerProcess::forest_binary(), "-c", conf}, &out) != 0);
  CHECK(out.find(conf + ":2:1: unknown field \"colour\"") != std::string::npos);
  CHECK(run_command({ServerProcess::forest_binary(), "-c", temp_path("missing.conf")}, &out) != 0);
  CHECK(out.find("cannot open") != std::string::npos);
  CHECK(run_command({ServerProcess::forest_binary(), "--bogus"}, &out) == 2);
  CHECK(out.find("flag provided but not defined: -bogus") != std::string::npos);
  // JetStream on a store dir that is a plain file: a clear error, never an empty store.
  const std::string not_a_dir = temp_path("js-store-file");
  std::ofstream(not_a_dir) << "garbage\n";
  CHECK(run_command({ServerProcess::forest_binary(), "-p", "-1", "-js", "-sd", not_a_dir}, &out) != 0);
  CHECK(out.find(not_a_dir) != std::string::npos);
  std::filesystem::remove(not_a_dir);
  // Configuration check mode
  std::ofstream(conf) << "port: 4222\n";
  CHECK(run_command({ServerProcess::forest_binary(), "-t", "-c", conf}, &out) == 0);
  // A port in use
  auto first = start("forest");
  CHECK(run_command({ServerProcess::forest_binary(), "-a", "127.0.0.1", "-p", std::to_string(first->client_port())}, &out) != 0);
  CHECK(out.find("Error listening on port") != std::string::npos);
  std::filesystem::remove(conf);
}

TEST_CASE("a stalled write past write_deadline is a slow consumer", "[server]") {
  const std::string conf = temp_path("deadline.conf");
  std::ofstream(conf) << "write_deadline: \"300ms\"\nmax_pending: 512MB\nmax_payload: 64KB\n";
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-c", conf, "-m", "-1"});
  RawClient stuck("127.0.0.1", server->client_port());
  stuck.read_line(3s);
  stuck.send("CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n");
  REQUIRE(stuck.read_exactly(6, 3s) == "PONG\r\n");
  RawClient pub("127.0.0.1", server->client_port());
  pub.read_line(3s);
  pub.send("CONNECT {\"verbose\":false}\r\n");
  const std::string payload(32 * 1024, 'y');
  std::string batch;
  for (int i = 0; i < 32; ++i) batch += "PUB flood 32768\r\n" + payload + "\r\n";
  simdjson::dom::parser p;
  int64_t slow = 0;
  for (int round = 0; round < 400 && slow == 0; ++round) {
    pub.send(batch);
    if (round % 20 == 19) {
      auto v = parse(p, http_get(server->http_port(), "/varz"));
      slow = int64_t(v["slow_consumers"]);
    }
  }
  for (int i = 0; i < 40 && slow == 0; ++i) {
    std::this_thread::sleep_for(100ms);
    auto v = parse(p, http_get(server->http_port(), "/varz"));
    slow = int64_t(v["slow_consumers"]);
  }
  CHECK(slow >= 1);
  std::filesystem::remove(conf);
}

TEST_CASE("garbage from many connections never takes the server down", "[server][robustness]") {
  auto server = start("forest", {"-m", "-1"});
  RawClient good("127.0.0.1", server->client_port());
  good.read_line(3s);
  good.send("CONNECT {\"verbose\":false}\r\nSUB ok 1\r\nPING\r\n");
  REQUIRE(good.read_exactly(6, 3s) == "PONG\r\n");
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
  };
  const std::vector<std::string> prefixes = {"PUB ", "SUB ", "HPUB ", "CONNECT ", "UNSUB ", "PING", "", "MSG ", "INFO "};
  for (int c = 0; c < 60; ++c) {
    RawClient bad("127.0.0.1", server->client_port());
    bad.read_line(2s);
    std::string junk = prefixes[next() % prefixes.size()];
    const std::size_t n = next() % 3000;
    for (std::size_t i = 0; i < n; ++i) junk.push_back(static_cast<char>(next() & 0xff));
    bad.send(junk);
    bad.read_until_closed(std::chrono::milliseconds(50));
  }
  // Still serving, and the well-behaved client never noticed.
  good.send("PUB ok 2\r\nhi\r\nPING\r\n");
  CHECK(good.read_exactly_answering_pings(std::string("MSG ok 1 2\r\nhi\r\nPONG\r\n").size(), 5s) ==
        "MSG ok 1 2\r\nhi\r\nPONG\r\n");
  CHECK(server->running());
  CHECK(http_get(server->http_port(), "/healthz") == "{\"status\":\"ok\"}");
  CHECK(server->stop() == 0);
}

TEST_CASE("-l writes the log to a file; --ports_file_dir writes the bound ports", "[server]") {
  const std::string log = temp_path("server.log");
  const std::string dir = temp_path("ports");
  std::filesystem::remove(log);
  std::filesystem::create_directories(dir);
  auto server = ServerProcess::start(ServerProcess::forest_binary(),
                                     {"-a", "127.0.0.1", "-p", "-1", "-l", log, "--ports_file_dir", dir}, 10s, log);
  CHECK(server->log().find("Listening for client connections") == std::string::npos);  // not on stderr
  // "Server is ready" is logged after the ports file is written: wait for it (bounded).
  std::string text;
  for (int i = 0; i < 250 && text.find("[INF] Server is ready") == std::string::npos; ++i) {
    std::ifstream in(log);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (text.find("[INF] Server is ready") == std::string::npos) std::this_thread::sleep_for(20ms);
  }
  CHECK(text.find("[INF] Server is ready") != std::string::npos);
  const std::string ports_file = dir + "/forest-server_" + std::to_string(server->pid()) + ".ports";
  std::ifstream pf(ports_file);
  const std::string ports((std::istreambuf_iterator<char>(pf)), std::istreambuf_iterator<char>());
  CHECK(ports.find("nats://127.0.0.1:" + std::to_string(server->client_port())) != std::string::npos);
  CHECK(server->stop() == 0);
  CHECK_FALSE(std::filesystem::exists(ports_file));  // removed on shutdown, as nats-server does
  std::filesystem::remove_all(dir);
  std::filesystem::remove(log);
}

TEST_CASE("bcrypt checks do not stall other clients of the same I/O thread", "[server][auth]") {
  // One I/O thread: every connection shares it. Ten CONNECTs with a bcrypt (cost 12) password
  // take over a second of CPU; a plain-password client's PING must be answered before they
  // are all done (ordering, not a timing threshold).
  const std::string conf = temp_path("bcrypt.conf");
  std::ofstream(conf) << "authorization { users = [\n"
                         "  {user: slow, password: \"$2a$12$abcdefghijklmnopqrstuuT1Iwu6o8Wx7BoOyIMHfgVJq6JO/IJhW\"}\n"
                         "  {user: fast, password: plain}\n] }\n";
  auto server = start("forest", {"-c", conf, "--io_threads", "1"});
  RawClient fast("127.0.0.1", server->client_port());
  fast.read_line(3s);
  fast.send("CONNECT {\"verbose\":false,\"user\":\"fast\",\"pass\":\"plain\"}\r\nPING\r\n");
  REQUIRE(fast.read_exactly(6, 3s) == "PONG\r\n");
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(std::make_unique<RawClient>("127.0.0.1", server->client_port()));
    slow.back()->read_line(3s);
    slow.back()->send("CONNECT {\"verbose\":false,\"user\":\"slow\",\"pass\":\"secret\"}\r\nPING\r\n");
  }
  fast.send("PING\r\n");
  CHECK(fast.read_exactly(6, 10s) == "PONG\r\n");
  // At that moment the bcrypt checks cannot all be done yet: the last slow client has no PONG.
  CHECK(slow.back()->read_exactly(6, std::chrono::milliseconds(1)).empty());
  for (auto& c : slow) CHECK(c->read_exactly(6, 20s) == "PONG\r\n");  // and all of them get in
  std::filesystem::remove(conf);
}

TEST_CASE("contradictory authorization settings refuse to start, naming the conflict", "[server][auth]") {
  // nats-server 2.9.10 starts with these and honours part of them (with no_auth_user, a client
  // without credentials gets in despite the token); we refuse to guess.
  const std::string conf = temp_path("users-nau.conf");
  std::ofstream(conf) << "authorization { users = [ {user: a, password: pa} ] }\nno_auth_user: a\n";
  std::string out;
  CHECK(run_command({ServerProcess::forest_binary(), "-a", "127.0.0.1", "-p", "-1", "-c", conf, "--auth", "tok"}, &out) != 0);
  CHECK(out.find("Can not have a token and a users array (token from --auth, users from authorization { users })") !=
        std::string::npos);
  CHECK(run_command({ServerProcess::forest_binary(), "-a", "127.0.0.1", "-p", "-1", "-c", conf, "--user", "u", "--pass", "p"}, &out) != 0);
  CHECK(out.find("Can not have a single user/pass and a users array") != std::string::npos);
  std::ofstream(conf, std::ios::trunc) << "no_auth_user: a\n";
  CHECK(run_command({ServerProcess::forest_binary(), "-t", "-c", conf}, &out) != 0);
  CHECK(out.find("no_auth_user: \"a\" present, but users are not defined") != std::string::npos);
  std::filesystem::remove(conf);
}

TEST_CASE("reload: a client without CONNECT is refused once no_auth_user is gone, never served", "[server][auth][reload]") {
  const std::string conf = temp_path("nau-drop.conf");
  std::ofstream(conf) << "authorization { users = [ {user: a, password: pa}, {user: b, password: pb} ] }\n"
                         "no_auth_user: a\n";
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-c", conf});
  auto early = open_client(server->client_port());  // connected under no_auth_user, no CONNECT yet
  auto adopted = open_client(server->client_port());
  adopted->send("PING\r\n");
  REQUIRE(adopted->read_exactly(6, 3s) == "PONG\r\n");  // let in as "a"
  // Dropping no_auth_user together with its user is the one change of it a reload accepts.
  reload_with(*server, conf, "authorization { users = [ {user: b, password: pb} ] }\n");
  early->send("PING\r\n");
  CHECK(early->read_until_closed(5s) == "-ERR 'Authorization Violation'\r\n");
  // "a" is gone: closed without a word, as if its account had changed (nats-server's
  // clientHasMovedToDifferentAccount; its log and the close reason say "Client Closed").
  const std::string last_words = adopted->read_until_closed(5s);
  CHECK(adopted->peer_closed());
  CHECK(last_words.empty());
  auto late = open_client(server->client_port());
  late->send("PING\r\n");
  CHECK(late->read_until_closed(5s) == "-ERR 'Authorization Violation'\r\n");
  std::filesystem::remove(conf);
}

TEST_CASE("reload: changing no_auth_user otherwise is refused, as in nats-server", "[server][auth][reload]") {
  const std::string conf = temp_path("nau-change.conf");
  std::ofstream(conf) << "authorization { users = [ {user: a, password: pa}, {user: b, password: pb} ] }\n"
                         "no_auth_user: a\n";
  auto server = start("forest", {"-c", conf});
  std::ofstream(conf, std::ios::trunc) << "authorization { users = [ {user: a, password: pa}, {user: b, password: pb} ] }\n"
                                          "no_auth_user: b\n";
  server->send_signal(SIGHUP);
  CHECK(server->wait_for_log("config reload not supported for no_auth_user: old=a, new=b", 5s));
  auto c = open_client(server->client_port());
  c->send("PING\r\n");
  CHECK(c->read_exactly(6, 3s) == "PONG\r\n");  // still the old settings
  std::filesystem::remove(conf);
}

TEST_CASE("reload enabling authorization closes clients whose CONNECT does not pass it", "[server][auth][reload]") {
  const std::string conf = temp_path("auth-on.conf");
  std::ofstream(conf) << "max_payload: 1MB\n";
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-c", conf});
  auto anonymous = open_client(server->client_port());
  auto wrong = open_client(server->client_port());
  auto right = open_client(server->client_port());
  anonymous->send("CONNECT {\"verbose\":false}\r\nPING\r\n");
  wrong->send("CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"nope\"}\r\nPING\r\n");
  right->send("CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"pb\"}\r\nPING\r\n");
  for (auto* c : {anonymous.get(), wrong.get(), right.get()}) REQUIRE(c->read_exactly(6, 3s) == "PONG\r\n");
  reload_with(*server, conf, "authorization { users = [ {user: a, password: pa}, {user: b, password: pb} ] }\n");
  CHECK(anonymous->read_until_closed(5s) == "-ERR 'Authorization Violation'\r\n");
  CHECK(wrong->read_until_closed(5s) == "-ERR 'Authorization Violation'\r\n");
  right->send("PING\r\n");
  CHECK(right->read_exactly(6, 3s) == "PONG\r\n");
  std::filesystem::remove(conf);
}

TEST_CASE("reload requiring authorization: a client before CONNECT gets the new rule and timeout", "[server][auth][reload]") {
  const std::string conf = temp_path("auth-pending.conf");
  std::ofstream(conf) << "max_payload: 1MB\n";
  auto server = start("forest", {"-c", conf});
  auto will_connect = open_client(server->client_port());
  auto silent = open_client(server->client_port());
  auto no_connect = open_client(server->client_port());
  reload_with(*server, conf, "authorization { users = [ {user: a, password: pa} ], timeout: 1 }\n");
  // Deliberately gentler than nats-server, which closes all three at once: a client in the middle
  // of its handshake may still CONNECT with credentials that pass...
  will_connect->send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"pa\"}\r\nPING\r\n");
  CHECK(will_connect->read_exactly(6, 3s) == "PONG\r\n");
  // ...but nothing else gets through without CONNECT, and the new timeout applies.
  no_connect->send("PING\r\n");
  CHECK(no_connect->read_until_closed(5s) == "-ERR 'Authorization Violation'\r\n");
  CHECK(silent->read_until_closed(5s) == "-ERR 'Authentication Timeout'\r\n");
  std::filesystem::remove(conf);
}

TEST_CASE("lowering max_connections on reload closes the excess", "[server][reload]") {
  const std::string conf = temp_path("maxconn.conf");
  std::ofstream(conf) << "max_connections: 10\n";
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-c", conf});
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(open_client(server->client_port()));
    clients.back()->send("CONNECT {\"verbose\":false}\r\nPING\r\n");
    REQUIRE(clients.back()->read_exactly(6, 3s) == "PONG\r\n");
  }
  reload_with(*server, conf, "max_connections: 1\n");
  CHECK(server->wait_for_log("Closed 2 connections to fall within max_connections", 5s));
  int closed = 0, alive = 0;
  for (auto& c : clients) {
    c->send("PING\r\n");
    const std::string line = c->read_line(3s);
    if (line == "-ERR 'maximum connections exceeded'\r\n") {
      CHECK(c->read_until_closed(3s).empty());
      ++closed;
    } else if (line == "PONG\r\n") {
      ++alive;
    }
  }
  CHECK(closed == 2);
  CHECK(alive == 1);
  std::filesystem::remove(conf);
}

TEST_CASE("-V traces never show credentials", "[server][auth]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-V", "--user", "alice", "--pass", "pw-AAAA"});
  auto c = open_client(server->client_port());
  c->send("CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pw-AAAA\",\"auth_token\":\"tok-BBBB\","
          "\"jwt\":\"jwt-CCCC\",\"sig\":\"sig-DDDD\"}\r\nPING\r\n");
  REQUIRE(c->read_exactly(6, 3s) == "PONG\r\n");
  REQUIRE(server->wait_for_log("[REDACTED]", 3s));
  const std::string log = server->log();
  CHECK(log.find("\"pass\":\"[REDACTED]\"") != std::string::npos);  // nats-server's format
  CHECK(log.find("pw-AAAA") == std::string::npos);
  if (which == "forest") {
    // nats-server 2.9.10 redacts only pass; we redact every credential field.
    for (const char* secret : {"tok-BBBB", "jwt-CCCC", "sig-DDDD"}) {
      INFO("secret " << secret);
      CHECK(log.find(secret) == std::string::npos);
    }
  }
}

TEST_CASE("long control lines: accepted and refused as nats-server does", "[server][parser]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-m", "-1"});
  const std::string big(64 * 1024, 'x'), blanks(64 * 1024, ' ');
  SECTION("a megabyte after PING is ignored, not refused") {
    auto c = open_client(server->client_port());
    c->send("CONNECT {\"verbose\":false}\r\nPING");
    for (int i = 0; i < 16; ++i) c->send(big);
    c->send("\r\nPING\r\n");
    CHECK(c->read_exactly(12, 5s) == "PONG\r\nPONG\r\n");
  }
  SECTION("a megabyte of blanks between PUB and its arguments does not count") {
    auto c = open_client(server->client_port());
    c->send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB");
    for (int i = 0; i < 16; ++i) c->send(blanks);
    c->send("foo 1\r\nx\r\nPING\r\n");
    CHECK(c->read_exactly(std::string("MSG foo 1 1\r\nx\r\nPONG\r\n").size(), 5s) == "MSG foo 1 1\r\nx\r\nPONG\r\n");
  }
  SECTION("an argument of exactly max_control_line passes even when a read ends on its CR") {
    auto c = open_client(server->client_port());
    c->send("CONNECT {\"verbose\":false}\r\nSUB " + std::string(4094, 'a') + " 1\r");  // 4096 bytes of argument
    std::this_thread::sleep_for(50ms);
    c->send("\nPING\r\n");
    CHECK(c->read_exactly(6, 5s) == "PONG\r\n");
  }
  SECTION("one byte more is refused, whole or split") {
    auto c = open_client(server->client_port());
    c->send("CONNECT {\"verbose\":false}\r\nSUB " + std::string(2000, 'a'));
    std::this_thread::sleep_for(50ms);
    c->send(std::string(2095, 'a') + " 1\r\nPING\r\n");
    CHECK(c->read_until_closed(5s) == "-ERR 'maximum control line exceeded'\r\n");
    auto d = open_client(server->client_port());
    d->send("CONNECT {\"verbose\":false}\r\nSUB foo 1" + std::string(4096, ' ') + "\r\nPING\r\n");  // trailing blanks count
    CHECK(d->read_until_closed(5s) == "-ERR 'maximum control line exceeded'\r\n");
  }
  CHECK(http_get(server->http_port(), "/healthz").find("ok") != std::string::npos);
}

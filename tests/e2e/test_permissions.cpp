// Per-user permissions end to end: raw protocol clients and libnats against forest-server and,
// with the same config file, nats-server 2.9.10 (the -ERR texts, what is delivered, that the
// connection stays open, reloads). Every case runs on both unless FOREST_SKIP_ORACLE=1.
#include <catch2/catch.hpp>

#include <nats/nats.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "raw_client.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

struct NatsLib {
  NatsLib() { nats_Open(-1); }
};
NatsLib nats_lib;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("forest-perm-" + std::to_string(::getpid()) + "-" + name)).string();
}

// A config file removed at the end of the case.
struct ConfFile {
  std::string path;
  ConfFile(const std::string& name, const std::string& text) : path(temp_path(name)) { write(text); }
  ~ConfFile() { std::filesystem::remove(path); }
  void write(const std::string& text) const { std::ofstream(path, std::ios::trunc) << text; }
};

std::unique_ptr<ServerProcess> start(const std::string& kind, const ConfFile& conf) {
  const std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1", "-c", conf.path};
  auto s = ServerProcess::start(kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(), args);
  REQUIRE(s);
  return s;
}

// A raw client logged in as `user` (password "p"), without +OK.
std::unique_ptr<RawClient> login(const ServerProcess& s, const std::string& user) {
  auto c = std::make_unique<RawClient>("127.0.0.1", s.client_port());
  REQUIRE(c->read_line(3s).rfind("INFO ", 0) == 0);
  c->send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"user\":\"" + user + "\",\"pass\":\"p\"}\r\nPING\r\n");
  REQUIRE(c->read_line(3s) == "PONG\r\n");
  return c;
}

// Sends `bytes` and a PING; returns what came before the PONG.
std::string exchange(RawClient& c, const std::string& bytes) {
  c.send(bytes + "PING\r\n");
  std::string out;
  for (;;) {
    const std::string line = c.read_line(3s);
    if (line.empty() || line == "PONG\r\n") return out;
    out += line;
  }
}

// The next `n` lines another connection's traffic brings (no PING: its order against our
// own traffic is not defined).
std::string lines(RawClient& c, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += c.read_line(3s);
  return out;
}

std::string perr(const std::string& text) { return "-ERR '" + text + "'\r\n"; }
std::string pub_violation(const std::string& s) { return perr("Permissions Violation for Publish to \"" + s + "\""); }
std::string sub_violation(const std::string& s) { return perr("Permissions Violation for Subscription to \"" + s + "\""); }

// Waits until the server logged a reload (both servers log this line).
void reload(ServerProcess& s, const ConfFile& conf, const std::string& text) {
  const std::size_t before = s.log().size();
  conf.write(text);
  s.send_signal(SIGHUP);
  for (int i = 0; i < 250; ++i) {
    if (s.log().find("Reloaded server configuration", before) != std::string::npos) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("no reload in the log: " << s.log().substr(before));
}

const char* kUsers = R"(
authorization {
  default_permissions: { publish: "def.>" }
  users = [
    {user: a, password: p, permissions: {
      publish: { allow: ["foo.>", "bar"], deny: "foo.secret" }
      subscribe: { allow: ">", deny: ["foo.secret", "jobs grp"] } } }
    {user: q, password: p, permissions: { subscribe: ["work.* workers", "free", "v.> v1.*"] } }
    {user: d, password: p}
    {user: any, password: p, permissions: { publish: ">", subscribe: ">" } }
  ]
}
)";

}  // namespace

TEST_CASE("publish and subscribe violations: -ERR, nothing routed, the connection stays", "[permissions]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("basic.conf", kUsers);
  auto server = start(kind, conf);
  auto a = login(*server, "a");
  auto watcher = login(*server, "any");
  REQUIRE(exchange(*watcher, "SUB > 1\r\n").empty());

  // Deny beats allow; a subject outside the allow list is refused; neither is routed.
  CHECK(exchange(*a, "PUB foo.secret 1\r\nx\r\nPUB baz 1\r\ny\r\nPUB foo.ok 1\r\nz\r\n") ==
        pub_violation("foo.secret") + pub_violation("baz"));
  // One publisher's messages arrive in order: a refused one would come first.
  CHECK(lines(*watcher, 2) == "MSG foo.ok 1 1\r\nz\r\n");
  // HPUB too.
  CHECK(exchange(*a, "HPUB baz 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPUB foo.mark 0\r\n\r\n") == pub_violation("baz"));
  CHECK(lines(*watcher, 2) == "MSG foo.mark 1 0\r\n\r\n");

  CHECK(exchange(*a, "SUB foo.secret 1\r\n") == sub_violation("foo.secret"));
  CHECK(exchange(*a, "SUB jobs grp 2\r\n") ==
        perr("Permissions Violation for Subscription to \"jobs\" using queue \"grp\""));
  CHECK(exchange(*a, "SUB jobs other 3\r\nSUB jobs 4\r\n").empty());
  // The refused sids hold nothing; the allowed ones work.
  CHECK(exchange(*watcher, "PUB foo.secret 1\r\nm\r\nPUB jobs 1\r\nj\r\n") ==
        "MSG foo.secret 1 1\r\nm\r\nMSG jobs 1 1\r\nj\r\n");
  const std::string got = lines(*a, 4);
  CHECK(got.find("MSG jobs 3 1\r\nj\r\n") != std::string::npos);
  CHECK(got.find("MSG jobs 4 1\r\nj\r\n") != std::string::npos);
  CHECK(got.find("foo.secret") == std::string::npos);

  // With verbose on, a refused PUB gets its -ERR instead of +OK.
  RawClient v("127.0.0.1", server->client_port());
  REQUIRE(v.read_line(3s).rfind("INFO ", 0) == 0);
  v.send("CONNECT {\"verbose\":true,\"user\":\"a\",\"pass\":\"p\"}\r\n");
  CHECK(v.read_line(3s) == "+OK\r\n");
  CHECK(exchange(v, "PUB baz 0\r\n\r\nPUB bar 0\r\n\r\n") == pub_violation("baz") + "+OK\r\n");

  CHECK(server->log().find("Publish Violation - User \"a\", Subject \"foo.secret\"") != std::string::npos);
  CHECK(server->log().find("Subscription Violation - User \"a\", Subject \"jobs\", Queue: \"grp\", SID 2") !=
        std::string::npos);
}

TEST_CASE("queue permissions: \"subject queue\" entries, wildcard queue names", "[permissions]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("queue.conf", kUsers);
  auto server = start(kind, conf);
  auto q = login(*server, "q");
  CHECK(exchange(*q, "SUB work.a 1\r\n") == sub_violation("work.a"));
  CHECK(exchange(*q, "SUB work.a workers 2\r\n").empty());
  CHECK(exchange(*q, "SUB work.a other 3\r\n") ==
        perr("Permissions Violation for Subscription to \"work.a\" using queue \"other\""));
  CHECK(exchange(*q, "SUB free 4\r\nSUB free g 5\r\nSUB v.x v1.a 6\r\n").empty());
  CHECK(exchange(*q, "SUB v.x v2 7\r\n") ==
        perr("Permissions Violation for Subscription to \"v.x\" using queue \"v2\""));
}

TEST_CASE("a wildcard subscription overlapping a denied subject does not get it", "[permissions]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("overlap.conf", kUsers);
  auto server = start(kind, conf);
  auto a = login(*server, "a");
  auto pub = login(*server, "any");
  REQUIRE(exchange(*a, "SUB foo.* 1\r\nSUB > 2\r\n").empty());
  REQUIRE(exchange(*pub, "PUB foo.secret 1\r\ns\r\nPUB foo.public 1\r\np\r\n").empty());
  // Neither subscription gets foo.secret (the filter applies to the whole connection); it
  // would come before foo.public.
  const std::string got = lines(*a, 4);
  CHECK(got.find("secret") == std::string::npos);
  CHECK(got.find("MSG foo.public 1 1\r\np\r\n") != std::string::npos);
  CHECK(got.find("MSG foo.public 2 1\r\np\r\n") != std::string::npos);
}

TEST_CASE("default_permissions apply to users without their own", "[permissions]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("default.conf", kUsers);
  auto server = start(kind, conf);
  auto d = login(*server, "d");
  CHECK(exchange(*d, "SUB > 1\r\nPUB def.x 1\r\na\r\nPUB other 1\r\nb\r\n") ==
        "MSG def.x 1 1\r\na\r\n" + pub_violation("other"));
}

TEST_CASE("allow_responses: a responder may publish only to the replies it received", "[permissions]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("responses.conf", R"(
authorization {
  users = [
    {user: svc, password: p, permissions: { subscribe: "req", allow_responses: true } }
    {user: svc2, password: p, permissions: { subscribe: "req2", allow_responses: { max: 2, expires: "300ms" } } }
    {user: any, password: p}
  ]
}
)");
  auto server = start(kind, conf);
  auto svc = login(*server, "svc");
  auto svc2 = login(*server, "svc2");
  auto cli = login(*server, "any");
  REQUIRE(exchange(*svc, "SUB req 1\r\n").empty());
  REQUIRE(exchange(*svc2, "SUB req2 1\r\n").empty());
  REQUIRE(exchange(*cli, "SUB in.> 9\r\n").empty());

  // Nothing received yet: no reply subject may be published to.
  CHECK(exchange(*svc, "PUB in.1 1\r\nx\r\n") == pub_violation("in.1"));
  REQUIRE(exchange(*cli, "PUB req in.1 1\r\nq\r\n").empty());
  CHECK(lines(*svc, 2) == "MSG req 1 in.1 1\r\nq\r\n");
  // Once (the default maximum), not twice; not to another subject.
  CHECK(exchange(*svc, "PUB in.1 2\r\nr1\r\nPUB in.1 2\r\nr2\r\nPUB in.2 2\r\nr3\r\n") ==
        pub_violation("in.1") + pub_violation("in.2"));
  CHECK(lines(*cli, 2) == "MSG in.1 9 2\r\nr1\r\n");

  // max: 2
  REQUIRE(exchange(*cli, "PUB req2 in.3 1\r\nq\r\n").empty());
  CHECK(lines(*svc2, 2) == "MSG req2 1 in.3 1\r\nq\r\n");
  CHECK(exchange(*svc2, "PUB in.3 1\r\na\r\nPUB in.3 1\r\nb\r\nPUB in.3 1\r\nc\r\n") == pub_violation("in.3"));
  CHECK(lines(*cli, 4) == "MSG in.3 9 1\r\na\r\nMSG in.3 9 1\r\nb\r\n");
  // expires: 300ms
  REQUIRE(exchange(*cli, "PUB req2 in.4 1\r\nq\r\n").empty());
  CHECK(lines(*svc2, 2) == "MSG req2 1 in.4 1\r\nq\r\n");
  std::this_thread::sleep_for(500ms);
  CHECK(exchange(*svc2, "PUB in.4 4\r\nlate\r\n") == pub_violation("in.4"));
  CHECK(exchange(*cli, "").empty());
}

TEST_CASE("a reload that tightens permissions applies to live connections", "[permissions][reload]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const std::string before = R"(
authorization {
  users = [
    {user: w, password: p, permissions: { publish: { allow: "*.*" }, subscribe: { deny: "bar.>" } } }
    {user: any, password: p}
  ]
}
)";
  ConfFile conf("reload.conf", before);
  auto server = start(kind, conf);
  auto w = login(*server, "w");
  auto pub = login(*server, "any");
  REQUIRE(exchange(*w, "SUB live.x 7\r\nSUB live.* 8\r\nSUB > 9\r\nPUB a.b 0\r\n\r\n") == "MSG a.b 9 0\r\n\r\n");

  reload(*server, conf, R"(
authorization {
  users = [
    {user: w, password: p, permissions: { publish: { allow: "*.*", deny: "a.b" }, subscribe: { deny: ["bar.>", "live.x"] } } }
    {user: any, password: p}
  ]
}
)");
  // The subscription no longer allowed goes, with its sid in the error.
  CHECK(lines(*w, 1) == perr("Permissions Violation for Subscription to \"live.x\" (sid \"7\")"));
  CHECK(exchange(*w, "PUB a.b 0\r\n\r\nSUB live.x 10\r\n") == pub_violation("a.b") + sub_violation("live.x"));
  // live.* and > stay, but no longer get live.x.
  REQUIRE(exchange(*pub, "PUB live.x 1\r\nx\r\nPUB live.y 1\r\ny\r\n").empty());
  const std::string got = lines(*w, 4);
  CHECK(got.find("live.x") == std::string::npos);
  CHECK(got.find("MSG live.y 8 1\r\ny\r\n") != std::string::npos);
  CHECK(got.find("MSG live.y 9 1\r\ny\r\n") != std::string::npos);
  CHECK(server->log().find("Removed sub \"live.x\" (sid \"7\") for User \"w\" - not authorized") != std::string::npos);
}

TEST_CASE("libnats: a violation is an async error, the connection goes on", "[permissions][libnats]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("libnats.conf", kUsers);
  auto server = start(kind, conf);
  struct Seen {
    std::mutex mu;
    std::vector<std::pair<natsStatus, std::string>> errors;
  } seen;
  natsOptions* opts = nullptr;
  REQUIRE(natsOptions_Create(&opts) == NATS_OK);
  natsOptions_SetURL(opts, ("nats://127.0.0.1:" + std::to_string(server->client_port())).c_str());
  natsOptions_SetUserInfo(opts, "a", "p");
  natsOptions_SetErrorHandler(
      opts,
      [](natsConnection* nc, natsSubscription*, natsStatus err, void* closure) {
        auto* s = static_cast<Seen*>(closure);
        std::lock_guard lock(s->mu);
        const char* text = nullptr;
        (void)natsConnection_GetLastError(nc, &text);
        s->errors.emplace_back(err, text != nullptr ? text : "");
      },
      &seen);
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_Connect(&nc, opts) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, nc, "foo.>") == NATS_OK);
  CHECK(natsConnection_PublishString(nc, "baz", "x") == NATS_OK);  // refused by the server, later
  CHECK(natsConnection_Flush(nc) == NATS_OK);
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard lock(seen.mu);
      if (!seen.errors.empty()) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  {
    std::lock_guard lock(seen.mu);
    REQUIRE(seen.errors.size() == 1);
    CHECK(seen.errors[0].first == NATS_NOT_PERMITTED);
    CHECK(seen.errors[0].second.find("Permissions Violation for Publish to \"baz\"") != std::string::npos);
  }
  CHECK_FALSE(natsConnection_IsClosed(nc));
  CHECK(natsConnection_PublishString(nc, "foo.ok", "still here") == NATS_OK);
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 3000) == NATS_OK);
  CHECK(std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))) == "still here");
  natsMsg_Destroy(m);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
}

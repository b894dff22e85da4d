// Config parser: a corpus of valid files (checked value by value) and of broken ones, each
// with its expected error position in its first line ("# expect: line:col: text").
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/conf_value.hpp"
#include "flags.hpp"
#include "options.hpp"

using namespace forest::broker;
namespace fs = std::filesystem;

namespace {
std::string data_dir() {
  const char* d = std::getenv("FOREST_TEST_DATA");
  return d != nullptr ? d : "tests/data";
}
}  // namespace

TEST_CASE("valid config: every supported form", "[config]") {
  Options o;
  auto r = apply_config_file(o, data_dir() + "/config/valid/full.conf");
  INFO((r ? std::string() : r.error()));
  REQUIRE(r);
  CHECK(o.host == "127.0.0.1");
  CHECK(o.port == 4333);
  CHECK(o.server_name == "forest-a");
  CHECK(o.http_host == "127.0.0.1");
  CHECK(o.http_port == 8333);
  CHECK(o.max_payload == 2 * 1024 * 1024);
  CHECK(o.max_pending == 128LL * 1024 * 1024);
  CHECK(o.max_control_line == 8 * 1024);
  CHECK(o.max_connections == 1000);
  CHECK(o.ping_interval == std::chrono::seconds(30));
  CHECK(o.ping_max == 5);
  CHECK(o.write_deadline == std::chrono::milliseconds(2500));
  CHECK(o.lame_duck_duration == std::chrono::seconds(45));
  CHECK(o.lame_duck_grace_period == std::chrono::seconds(3));
  CHECK(o.debug);
  CHECK_FALSE(o.trace);
  CHECK_FALSE(o.logtime);
  CHECK(o.max_subscriptions == 4000);
  REQUIRE(o.users.size() == 2);
  CHECK(o.users[0].username == "alice");
  CHECK(o.users[0].password == "s3cret");
  CHECK(o.users[1].account == "B");
  CHECK(o.auth_timeout == std::chrono::milliseconds(1500));
  CHECK(o.no_auth_user == "alice");
  CHECK(validate_options(o));
}

TEST_CASE("valid config: include and variables from an included file", "[config]") {
  Options o;
  auto r = apply_config_file(o, data_dir() + "/config/valid/token_include.conf");
  INFO((r ? std::string() : r.error()));
  REQUIRE(r);
  CHECK(o.token == "from-include");
  CHECK(o.max_payload == 65536);
  CHECK(o.port == -1);
}

TEST_CASE("valid config: cluster and jetstream blocks are parsed for their issues", "[config]") {
  Options o;
  auto r = apply_config_file(o, data_dir() + "/config/valid/blocks.conf");
  INFO((r ? std::string() : r.error()));
  REQUIRE(r);
  CHECK(o.cluster.configured);
  CHECK(o.cluster.name == "forest-123");
  CHECK(o.cluster.port == 6333);
  REQUIRE(o.cluster.routes.size() == 2);
  CHECK(o.cluster.routes[1] == "nats-route://[2a01::1]:6222");
  CHECK(o.jetstream.enabled);
  CHECK(o.jetstream.store_dir == "/tmp/js");
  CHECK(o.jetstream.max_memory == 1000LL * 1000 * 1000);
  // ...and, both being supported now, they make valid startup options.
  CommandLine cl;
  cl.config_file = data_dir() + "/config/valid/blocks.conf";
  auto built = build_options(cl);
  INFO((built ? std::string() : built.error()));
  REQUIRE(built);
  CHECK(built->jetstream.enabled);
  CHECK(built->jetstream.store_dir == "/tmp/js");
  CHECK(built->cluster.port == 6333);
}

TEST_CASE("environment variables", "[config]") {
  ::setenv("FOREST_TEST_PORT", "4555", 1);
  Options o;
  auto r = apply_config_text(o, "port: $FOREST_TEST_PORT\n", "env.conf");
  REQUIRE(r);
  CHECK(o.port == 4555);
}

TEST_CASE("broken configs name file, line and column", "[config]") {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(data_dir() + "/config/invalid")) {
    const std::string path = entry.path().string();
    std::ifstream f(path);
    std::string first;
    std::getline(f, first);
    const std::string marker = "# expect: ";
    REQUIRE(first.rfind(marker, 0) == 0);
    const std::string expected = first.substr(marker.size());
    Options o;
    auto r = apply_config_file(o, path);
    INFO("file: " << path);
    REQUIRE_FALSE(r);
    INFO("error: " << r.error());
    // The error starts with the file name and carries the expected "line:col: text".
    CHECK(r.error().rfind(path + ":", 0) == 0);
    CHECK(r.error().find(expected) != std::string::npos);
    ++checked;
  }
  CHECK(checked >= 12);
}

TEST_CASE("go durations", "[config]") {
  CHECK(parse_go_duration("2m") == std::chrono::minutes(2));
  CHECK(parse_go_duration("1h30m") == std::chrono::minutes(90));
  CHECK(parse_go_duration("1.5s") == std::chrono::milliseconds(1500));
  CHECK(parse_go_duration("250ms") == std::chrono::milliseconds(250));
  CHECK(parse_go_duration("0") == std::chrono::seconds(0));
  CHECK_FALSE(parse_go_duration("2"));
  CHECK_FALSE(parse_go_duration("abc"));
  CHECK(format_go_duration(std::chrono::minutes(2)) == "2m0s");
  CHECK(format_go_duration(std::chrono::seconds(10)) == "10s");
  CHECK(format_go_duration(std::chrono::milliseconds(1500)) == "1.5s");
}

TEST_CASE("command line like Go's flag package", "[flags]") {
  auto parse = [](std::vector<std::string> a) { return parse_command_line(a); };
  SECTION("one or two dashes, = or a separate value") {
    auto cl = parse({"-p", "4333", "--addr=127.0.0.1", "-user", "u", "--pass=p", "-DV", "-m=-1"});
    REQUIRE(cl);
    auto o = build_options(*cl);
    REQUIRE(o);
    CHECK(o->port == 4333);
    CHECK(o->host == "127.0.0.1");
    CHECK(o->username == "u");
    CHECK(o->password == "p");
    CHECK(o->debug);
    CHECK(o->trace);
    CHECK(o->http_port == -1);
  }
  SECTION("booleans take =false only") {
    auto cl = parse({"-T=false"});
    REQUIRE(cl);
    auto o = build_options(*cl);
    REQUIRE(o);
    CHECK_FALSE(o->logtime);
  }
  SECTION("unknown flags and bad values are errors") {
    auto unknown = parse({"--no-such-flag"});
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error() == "flag provided but not defined: -no-such-flag");
    CHECK_FALSE(parse({"-p", "abc"}));
    CHECK_FALSE(parse({"-p"}));
    CHECK_FALSE(parse({"stray"}));
  }
  SECTION("JetStream flags (once refused, now supported) land in the options") {
    auto cl = parse({"-js", "-sd", "/tmp/x"});
    REQUIRE(cl);
    auto o = build_options(*cl);
    REQUIRE(o);
    CHECK(o->jetstream.enabled);
    CHECK(o->jetstream.store_dir == "/tmp/x");
    auto off = build_options(*parse({"-sd", "/tmp/x"}));
    REQUIRE(off);
    CHECK_FALSE(off->jetstream.enabled);
  }
  SECTION("jetstream sync_interval is \"always\" or a positive duration") {
    Options o;
    REQUIRE(apply_config_text(o, "jetstream { sync_interval: always }", "t.conf"));
    CHECK(validate_options(o));
    REQUIRE(apply_config_text(o, "jetstream { sync_interval: \"30s\" }", "t.conf"));
    CHECK(validate_options(o));
    REQUIRE(apply_config_text(o, "jetstream { sync_interval: \"soon\" }", "t.conf"));
    auto bad = validate_options(o);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().find("sync_interval") != std::string::npos);
  }
  SECTION("cluster flags as nats-server spells them") {
    auto cl = parse({"--cluster", "nats://127.0.0.1:6333", "--routes", "nats://a:6222, nats://u:p@[2a01:4f8::1]:6222",
                     "--cluster_name", "forest-1", "--no_advertise", "--connect_retries", "3",
                     "--cluster_advertise", "10.0.0.1:7222", "--client_advertise", "nats.example:4333"});
    REQUIRE(cl);
    auto o = build_options(*cl);
    REQUIRE(o);
    CHECK(o->cluster.configured);
    CHECK(o->cluster.host == "127.0.0.1");
    CHECK(o->cluster.port == 6333);
    CHECK(o->cluster.routes == std::vector<std::string>{"nats://a:6222", "nats://u:p@[2a01:4f8::1]:6222"});
    CHECK(o->cluster.name == "forest-1");
    CHECK(o->cluster.no_advertise);
    CHECK(o->cluster.connect_retries == 3);
    CHECK(o->cluster.advertise == "10.0.0.1:7222");
    CHECK(o->client_advertise == "nats.example:4333");
    auto random_port = parse({"--cluster", "nats://:-1"});
    REQUIRE(random_port);
    auto r = build_options(*random_port);
    REQUIRE(r);
    CHECK(r->cluster.host == "0.0.0.0");
    CHECK(r->cluster.port == -1);
  }
  SECTION("bad route URLs are startup errors") {
    for (const auto& args : std::vector<std::vector<std::string>>{{"--routes", "nats://2a01:4f8::1:6222"},
                                                                  {"--routes", "nats://host:99999"},
                                                                  {"--routes", "ftp://host:6222"},
                                                                  {"--cluster", "nats://host"}}) {
      auto cl = parse(args);
      REQUIRE(cl);
      CHECK_FALSE(build_options(*cl));
    }
  }
  SECTION("flags win over the config file") {
    auto cl = parse({"-c", data_dir() + "/config/valid/full.conf", "-p", "5000", "-D=false"});
    REQUIRE(cl);
    auto o = build_options(*cl);
    REQUIRE(o);
    CHECK(o->port == 5000);
    CHECK_FALSE(o->debug);
    CHECK(o->server_name == "forest-a");
  }
  SECTION("signal, help and version") {
    auto cl = parse({"--signal", "reload=123"});
    REQUIRE(cl);
    CHECK(cl->signal == "reload=123");
    CHECK(parse({"-h"})->show_help);
    CHECK(parse({"--version"})->show_version);
  }
}

TEST_CASE("contradictory authorization settings are refused, naming what and where", "[config][auth]") {
  const std::string users = data_dir() + "/config/valid/users_no_auth.conf";
  auto build = [](std::vector<std::string> args) {
    auto cl = parse_command_line(args);
    REQUIRE(cl);
    return build_options(*cl);
  };
  SECTION("the file alone is fine") {
    auto o = build({"-c", users});
    INFO((o ? std::string() : o.error()));
    REQUIRE(o);
    CHECK(o->no_auth_user == "a");
  }
  SECTION("a token on the command line with a users list in the file") {
    // nats-server starts with this and lets token-less clients in as the no_auth_user.
    auto o = build({"-c", users, "--auth", "tok"});
    REQUIRE_FALSE(o);
    CHECK(o.error() == "Can not have a token and a users array (token from --auth, users from authorization { users })");
  }
  SECTION("a user on the command line with a users list in the file") {
    auto o = build({"-c", users, "--user", "u", "--pass", "p"});
    REQUIRE_FALSE(o);
    CHECK(o.error() ==
          "Can not have a single user/pass and a users array (user from --user, users from authorization { users })");
  }
  SECTION("user and token from the command line") {
    auto o = build({"--user", "u", "--auth", "t"});
    REQUIRE_FALSE(o);
    CHECK(o.error() == "Cannot have a user/pass and token (token from --auth, user/pass from --user)");
  }
  SECTION("a password without a user") {
    auto o = build({"--pass", "p"});
    REQUIRE_FALSE(o);
    CHECK(o.error() == "Can not have a password without a user (password from --pass)");
    Options f;
    REQUIRE(apply_config_text(f, "authorization { password: x }\n", "p.conf"));
    auto v = validate_options(f);
    REQUIRE_FALSE(v);
    CHECK(v.error() == "Can not have a password without a user (password from authorization { password })");
  }
  SECTION("no_auth_user without users, or not among them (nats-server's texts)") {
    Options f;
    REQUIRE(apply_config_text(f, "no_auth_user: ghost\nauthorization { user: a, password: b }\n", "n.conf"));
    auto v = validate_options(f);
    REQUIRE_FALSE(v);
    CHECK(v.error() == "no_auth_user: \"ghost\" present, but users are not defined");
    Options g;
    REQUIRE(apply_config_text(g, "no_auth_user: ghost\nauthorization { users = [ {user: a, password: b} ] }\n", "g.conf"));
    auto w = validate_options(g);
    REQUIRE_FALSE(w);
    CHECK(w.error() == "no_auth_user: \"ghost\" not present as user in authorization block");
  }
}

TEST_CASE("tls block and TLS flags", "[config][tls]") {
  SECTION("the block's keys") {
    Options o;
    auto r = apply_config_text(o, R"(
tls {
  cert_file: "s.pem", key_file: "s.key", ca_file: "ca.pem", verify: true, timeout: "1.5s"
  min_version: 1.3, insecure: true
  cipher_suites: ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], curve_preferences: [X25519, CurveP384]
}
)", "tls.conf");
    INFO((r ? std::string() : r.error()));
    REQUIRE(r);
    CHECK(o.tls.enabled);
    CHECK(o.tls.cert_file == "s.pem");
    CHECK(o.tls.key_file == "s.key");
    CHECK(o.tls.ca_file == "ca.pem");
    CHECK(o.tls.verify);
    CHECK(o.tls.timeout() == 1.5);
    CHECK(o.tls.min_version == "1.3");
    CHECK(o.tls.cipher_suites == std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"});
    CHECK(o.tls.curve_preferences == std::vector<std::string>{"X25519", "CurveP384"});
    // nats-server: without an authorization timeout, TLS makes it the TLS timeout plus 1 s.
    CHECK(o.effective_auth_timeout() == std::chrono::milliseconds(2500));
  }
  SECTION("flags replace the block, keeping its timeout") {
    auto cl = parse_command_line({"--tlscert", "f.pem", "--tlskey", "f.key", "--tlsverify"});
    REQUIRE(cl);
    Options o;
    REQUIRE(apply_config_text(o, "tls { cert_file: a, key_file: b, ca_file: c, timeout: 3 }", "t.conf"));
    REQUIRE(apply_flags(o, *cl));
    CHECK(o.tls.enabled);
    CHECK(o.tls.cert_file == "f.pem");
    CHECK(o.tls.ca_file.empty());
    CHECK(o.tls.verify);
    CHECK(o.tls.timeout() == 3.0);
  }
  SECTION("verify_and_map implies verify; pinned_certs are SHA-256 hex, kept in lower case") {
    Options o;
    REQUIRE(apply_config_text(o, "tls { cert_file: a, key_file: b, verify_and_map: true, pinned_certs: [\"" +
                                     std::string(64, 'A') + "\"] }", "t.conf"));
    CHECK(o.tls.verify);
    CHECK(o.tls.map);
    CHECK(o.tls.pinned_certs == std::vector<std::string>{std::string(64, 'a')});
    auto r = apply_config_text(o, "tls { cert_file: a, key_file: b, pinned_certs: [\"abc\"] }", "t.conf");
    REQUIRE_FALSE(r);
    CHECK(r.error().find("'pinned_certs' key abc does not look like hex-encoded sha256") != std::string::npos);
    CHECK_FALSE(apply_config_text(o, "tls { cert_file: a, key_file: b, verify_and_map: 1 }", "t.conf"));
  }
  SECTION("cluster { tls {} }, https_port and -ms") {
    Options o;
    REQUIRE(apply_config_text(o, "cluster { listen: \"127.0.0.1:-1\", tls { cert_file: a, key_file: b, ca_file: c, "
                                 "insecure: true, timeout: 3 } }\nhttps: \"127.0.0.2:8443\"", "t.conf"));
    CHECK(o.cluster.tls.enabled);
    CHECK(o.cluster.tls.ca_file == "c");
    CHECK(o.cluster.tls.insecure);
    CHECK(o.cluster.tls.timeout() == 3.0);
    CHECK(o.https_port == 8443);
    CHECK(o.http_host == "127.0.0.2");
    CHECK_FALSE(o.tls.enabled);
    auto r = apply_config_text(o, "cluster { tls { cert_file: a, key_file: b, verify_and_map: true } }", "t.conf");
    REQUIRE_FALSE(r);
    CHECK(r.error().find("cluster tls verify_and_map") != std::string::npos);
    auto cl = parse_command_line({"-ms", "-1"});
    REQUIRE(cl);
    REQUIRE(apply_flags(o, *cl));
    CHECK(o.https_port == -1);
  }
  SECTION("--tls without a certificate is refused, --tls=false turns TLS off") {
    Options o;
    auto cl = parse_command_line({"--tls"});
    REQUIRE(cl);
    auto r = apply_flags(o, *cl);
    REQUIRE_FALSE(r);
    CHECK(r.error() == "TLS Server certificate must be present and valid");
    REQUIRE(apply_config_text(o, "tls { cert_file: a, key_file: b }", "t.conf"));
    auto off = parse_command_line({"--tls=false"});
    REQUIRE(off);
    REQUIRE(apply_flags(o, *off));
    CHECK_FALSE(o.tls.enabled);
  }
}

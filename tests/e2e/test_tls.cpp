// TLS on the client port end to end: certificates made here with the openssl CLI (a throwaway
// CA, a server certificate for 127.0.0.1/localhost, client certificates: good, expired, from
// another CA), libnats over TLS and raw TCP clients, against forest-server and, with the same
// config file, nats-server 2.9.10. Every case runs on both unless FOREST_SKIP_ORACLE=1.
#include <catch2/catch.hpp>

#include <nats/nats.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "raw_client.hpp"
#include "run_command.hpp"
#include "server_process.hpp"
#include "test_certs.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct NatsLib {
  NatsLib() { nats_Open(-1); }
};
NatsLib nats_lib;

using Certs = TestCerts;

const Certs& certs() {
  const Certs& c = test_certs();
  if (!c.ok) FAIL("openssl could not make the test certificates: " << c.error);
  return c;
}

// A config file removed at the end of the case.
struct ConfFile {
  std::string path;
  ConfFile(const std::string& name, const std::string& text)
      : path((certs().dir / ("conf-" + name)).string()) { write(text); }
  ~ConfFile() { fs::remove(path); }
  void write(const std::string& text) const { std::ofstream(path, std::ios::trunc) << text; }
};

std::string binary(const std::string& kind) {
  return kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
}

std::unique_ptr<ServerProcess> start(const std::string& kind, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto s = ServerProcess::start(binary(kind), args);
  REQUIRE(s);
  return s;
}

std::unique_ptr<ServerProcess> start(const std::string& kind, const ConfFile& conf) {
  return start(kind, {"-D", "-c", conf.path});
}

std::string tls_block(const std::string& server_cert, const std::string& extra) {
  const Certs& c = certs();
  return "tls {\n  cert_file: \"" + c(server_cert + ".pem") + "\"\n  key_file: \"" + c(server_cert + ".key") +
         "\"\n" + extra + "}\n";
}

// How a libnats client presents itself over TLS.
struct Client {
  std::string trust = "ca.pem";  // the CA it trusts for the server's certificate
  std::string cert;              // its own certificate ("client" -> client.pem, client.key); none if empty
};

// Connects with libnats over TLS; NATS_OK and a connection, or the failure.
natsStatus connect_tls(int port, const Client& who, natsConnection** nc) {
  const Certs& c = certs();
  natsOptions* opts = nullptr;
  REQUIRE(natsOptions_Create(&opts) == NATS_OK);
  natsOptions_SetURL(opts, ("tls://127.0.0.1:" + std::to_string(port)).c_str());
  natsOptions_SetTimeout(opts, 3000);
  natsOptions_SetMaxReconnect(opts, 0);
  REQUIRE(natsOptions_SetSecure(opts, true) == NATS_OK);
  REQUIRE(natsOptions_LoadCATrustedCertificates(opts, c(who.trust).c_str()) == NATS_OK);
  if (!who.cert.empty()) {
    REQUIRE(natsOptions_LoadCertificatesChain(opts, c(who.cert + ".pem").c_str(), c(who.cert + ".key").c_str()) ==
            NATS_OK);
  }
  const natsStatus st = natsConnection_Connect(nc, opts);
  natsOptions_Destroy(opts);
  return st;
}

// A round trip that proves the connection works: subscribe, publish, receive, flush.
void check_pub_sub(natsConnection* nc) {
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, nc, "tls.test") == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc, "tls.test", "over tls") == NATS_OK);
  natsMsg* msg = nullptr;
  REQUIRE(natsSubscription_NextMsg(&msg, sub, 3000) == NATS_OK);
  CHECK(std::string(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))) == "over tls");
  natsMsg_Destroy(msg);
  // A bigger payload, split over several TLS records both ways.
  const std::string big(200 * 1024, 'x');
  REQUIRE(natsConnection_Publish(nc, "tls.test", big.data(), static_cast<int>(big.size())) == NATS_OK);
  REQUIRE(natsSubscription_NextMsg(&msg, sub, 3000) == NATS_OK);
  CHECK(natsMsg_GetDataLength(msg) == static_cast<int>(big.size()));
  natsMsg_Destroy(msg);
  CHECK(natsConnection_FlushTimeout(nc, 3000) == NATS_OK);
  natsSubscription_Destroy(sub);
}

// Connects and checks pub/sub; true when it all worked.
bool works(int port, const Client& who) {
  natsConnection* nc = nullptr;
  const natsStatus st = connect_tls(port, who, &nc);
  if (st != NATS_OK) return false;
  check_pub_sub(nc);
  natsConnection_Destroy(nc);
  return true;
}

std::string info_line(int port) {
  RawClient raw("127.0.0.1", port);
  return raw.read_line(3s);
}

// Waits until the server's log has `text` after `from`.
bool logged(ServerProcess& s, const std::string& text, std::size_t from = 0) {
  for (int i = 0; i < 150; ++i) {
    if (s.log().find(text, from) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace

TEST_CASE("TLS: INFO in plain text says tls_required, then libnats does pub/sub over TLS", "[tls]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("basic.conf", tls_block("server", "  timeout: 2\n"));
  auto server = start(kind, conf);
  const std::string info = info_line(server->client_port());
  REQUIRE(info.rfind("INFO {", 0) == 0);
  CHECK(info.find("\"tls_required\":true") != std::string::npos);
  CHECK(info.find("tls_verify") == std::string::npos);
  CHECK(works(server->client_port(), {}));
  // A client that does not trust the server's CA refuses it.
  natsConnection* nc = nullptr;
  CHECK(connect_tls(server->client_port(), {.trust = "ca2.pem", .cert = ""}, &nc) != NATS_OK);
  CHECK(server->log().find("TLS required for client connections") != std::string::npos);
}

TEST_CASE("TLS from the command line: --tls --tlscert --tlskey", "[tls][flags]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const Certs& c = certs();
  auto server = start(kind, {"--tls", "--tlscert", c("server.pem"), "--tlskey", c("server.key")});
  CHECK(info_line(server->client_port()).find("\"tls_required\":true") != std::string::npos);
  CHECK(works(server->client_port(), {}));
}

TEST_CASE("TLS verify: a client certificate from the CA is required", "[tls][verify]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("verify.conf", tls_block("server", "  ca_file: \"" + certs()("ca.pem") + "\"\n  verify: true\n"));
  auto server = start(kind, conf);
  const std::string info = info_line(server->client_port());
  CHECK(info.find("\"tls_required\":true") != std::string::npos);
  CHECK(info.find("\"tls_verify\":true") != std::string::npos);

  CHECK(works(server->client_port(), {.trust = "ca.pem", .cert = "client"}));

  // Without a certificate, with an expired one, with one from another CA: refused, logged.
  for (const std::string& bad : std::vector<std::string>{"", "expired", "wrongca"}) {
    INFO("client certificate: " << (bad.empty() ? "none" : bad));
    const std::size_t from = server->log().size();
    natsConnection* nc = nullptr;
    const natsStatus st = connect_tls(server->client_port(), {.trust = "ca.pem", .cert = bad}, &nc);
    CHECK(st != NATS_OK);
    if (st == NATS_OK) natsConnection_Destroy(nc);
    CHECK(logged(*server, "TLS handshake error", from));
  }
  const std::string log = server->log();
  if (kind == "forest") {
    CHECK(log.find("certificate has expired") != std::string::npos);
    CHECK(log.find("peer did not return a certificate") != std::string::npos);
  }
}

TEST_CASE("TLS: a plain-text client after INFO fails the handshake and is closed", "[tls]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("plain.conf", tls_block("server", ""));
  auto server = start(kind, conf);
  RawClient raw("127.0.0.1", server->client_port());
  REQUIRE(raw.read_line(3s).find("\"tls_required\":true") != std::string::npos);
  const std::size_t from = server->log().size();
  raw.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
  // No PONG, no -ERR: the server answers nothing in plain text and closes.
  CHECK(raw.read_until_closed(3s).empty());
  CHECK(raw.peer_closed());
  // Both log it the same way (Go's words; forest-server translates OpenSSL's guess at HTTP).
  CHECK(logged(*server, "TLS handshake error: ", from));
  CHECK(logged(*server, "first record does not look like a TLS handshake", from));
}

TEST_CASE("TLS: a client that stalls in the handshake is closed after the timeout", "[tls][timeout]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("stall.conf", tls_block("server", "  timeout: 0.5\n"));
  auto server = start(kind, conf);
  // Several at once: the timer of each closes it, none holds a thread the others need.
  std::vector<std::unique_ptr<RawClient>> stalled;
  for (int i = 0; i < 4; ++i) {
    stalled.push_back(std::make_unique<RawClient>("127.0.0.1", server->client_port()));
    REQUIRE(stalled.back()->read_line(3s).find("\"tls_required\":true") != std::string::npos);
  }
  const auto t0 = std::chrono::steady_clock::now();
  // Meanwhile a good client is served.
  CHECK(works(server->client_port(), {}));
  for (auto& raw : stalled) {
    const std::string rest = raw->read_until_closed(3s);
    CHECK(raw->peer_closed());
    // nats-server may write its "-ERR 'Secure Connection - TLS Required'" through the TLS
    // layer that never came up (no bytes reach the peer); forest-server sends nothing.
    if (kind == "forest") CHECK(rest.empty());
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 300ms);
  CHECK(took < 1500ms);
  CHECK(logged(*server, "TLS handshake"));
  if (kind == "forest") CHECK(server->log().find("TLS handshake timeout") != std::string::npos);
}

TEST_CASE("TLS: bad certificate files are a startup error", "[tls][config]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const Certs& c = certs();
  struct Bad {
    const char* what;
    std::string block;
  };
  const std::vector<Bad> cases = {
      {"missing cert file", "tls { cert_file: \"" + c("nope.pem") + "\", key_file: \"" + c("server.key") + "\" }\n"},
      {"missing key file", "tls { cert_file: \"" + c("server.pem") + "\", key_file: \"" + c("nope.key") + "\" }\n"},
      {"not PEM", "tls { cert_file: \"" + c("garbage.pem") + "\", key_file: \"" + c("server.key") + "\" }\n"},
      {"key of another cert", "tls { cert_file: \"" + c("server.pem") + "\", key_file: \"" + c("client.key") + "\" }\n"},
      {"CA file not PEM", tls_block("server", "  ca_file: \"" + c("garbage.pem") + "\"\n  verify: true\n")},
      {"unknown cipher", tls_block("server", "  cipher_suites: [\"TLS_NOPE\"]\n")},
      {"unknown curve", tls_block("server", "  curve_preferences: [\"CurveP999\"]\n")},
      {"unknown key", tls_block("server", "  no_such_key: true\n")},
  };
  for (const Bad& b : cases) {
    INFO(b.what);
    ConfFile conf("bad.conf", b.block);
    std::string out;
    const int rc = run_command({binary(kind), "-a", "127.0.0.1", "-p", "-1", "-c", conf.path}, &out);
    INFO(out);
    CHECK(rc != 0);
    // The error names the cause: the tls block, a certificate file, the cipher or the curve.
    std::string lower = out;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    CHECK((lower.find("tls") != std::string::npos || lower.find("curve") != std::string::npos));
  }
}

TEST_CASE("TLS: cipher_suites and curve_preferences are applied", "[tls][config]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("ciphers.conf", tls_block("server",
                                          "  cipher_suites: [\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\", "
                                          "\"TLS_AES_128_GCM_SHA256\"]\n  curve_preferences: [\"CurveP256\"]\n"));
  auto server = start(kind, conf);
  CHECK(works(server->client_port(), {}));
}

TEST_CASE("TLS reload: new connections get the new certificate", "[tls][reload]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("reload.conf", tls_block("server", ""));
  auto server = start(kind, conf);
  natsConnection* old_nc = nullptr;
  REQUIRE(connect_tls(server->client_port(), {}, &old_nc) == NATS_OK);
  natsConnection* nc = nullptr;
  CHECK(connect_tls(server->client_port(), {.trust = "ca2.pem", .cert = ""}, &nc) != NATS_OK);

  const std::size_t from = server->log().size();
  conf.write(tls_block("server2", ""));
  server->send_signal(SIGHUP);
  REQUIRE(logged(*server, "Reloaded server configuration", from));
  CHECK(works(server->client_port(), {.trust = "ca2.pem", .cert = ""}));
  CHECK(connect_tls(server->client_port(), {}, &nc) != NATS_OK);
  // The connection made before keeps working with the old certificate.
  check_pub_sub(old_nc);
  natsConnection_Destroy(old_nc);
}

TEST_CASE("TLS verify_and_map: the client certificate names the user", "[tls][map]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const Certs& c = certs();
  // Alice by her email SAN (with permissions), bob by his DNS SAN, carol by her subject as a
  // DN whose RDNs are in another order, dan by the subject's string with its domain components
  // (his subject also has an emailAddress, which the DN comparison does not know).
  ConfFile conf("map.conf", tls_block("server", "  ca_file: \"" + c("ca.pem") + "\"\n  verify_and_map: true\n") +
                                "authorization {\n  users = [\n"
                                "    {user: \"alice@example.com\", permissions: {publish: \"alice.>\", subscribe: \">\"}}\n"
                                "    {user: \"bob.example.com\"}\n"
                                "    {user: \"OU=Eng,CN=carol,C=US,O=Acme\"}\n"
                                "    {user: \"CN=dan,DC=org,DC=example\"}\n"
                                "  ]\n}\n");
  auto server = start(kind, conf);
  const std::string info = info_line(server->client_port());
  CHECK(info.find("\"tls_verify\":true") != std::string::npos);
  for (const char* who : {"bob", "carol", "dan"}) {
    INFO("client certificate: " << who);
    CHECK(works(server->client_port(), {.trust = "ca.pem", .cert = who}));
  }

  // Alice's permissions apply: her publish outside alice.> is dropped, the next one arrives.
  natsConnection* nc = nullptr;
  REQUIRE(connect_tls(server->client_port(), {.trust = "ca.pem", .cert = "alice"}, &nc) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, nc, ">") == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc, "bob.x", "denied") == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc, "alice.x", "allowed") == NATS_OK);
  natsConnection_FlushTimeout(nc, 3000);
  natsMsg* msg = nullptr;
  REQUIRE(natsSubscription_NextMsg(&msg, sub, 3000) == NATS_OK);
  CHECK(std::string(natsMsg_GetSubject(msg)) == "alice.x");
  natsMsg_Destroy(msg);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);

  // A good certificate that names no user: an authorization violation.
  const std::size_t from = server->log().size();
  nc = nullptr;
  const natsStatus st = connect_tls(server->client_port(), {.trust = "ca.pem", .cert = "client"}, &nc);
  CHECK(st != NATS_OK);
  if (st == NATS_OK) natsConnection_Destroy(nc);
  CHECK(logged(*server, "authentication error", from));
}

namespace {
std::string spki_of(const std::string& cert) {
  std::ifstream in(certs()(cert + ".spki"));
  std::string hex;
  in >> hex;
  REQUIRE(hex.size() == 64);
  return hex;
}
}  // namespace

TEST_CASE("TLS pinned_certs: only certificates with a listed public key are let in", "[tls][pinned]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const Certs& c = certs();
  std::string pin = spki_of("client");
  for (char& ch : pin) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));  // either case
  ConfFile conf("pinned.conf", tls_block("server", "  ca_file: \"" + c("ca.pem") + "\"\n  verify: true\n  pinned_certs: [\"" +
                                                       pin + "\"]\n"));
  auto server = start(kind, conf);
  CHECK(works(server->client_port(), {.trust = "ca.pem", .cert = "client"}));
  // Alice's certificate is from the same CA, but her key is not pinned.
  const std::size_t from = server->log().size();
  natsConnection* nc = nullptr;
  const natsStatus st = connect_tls(server->client_port(), {.trust = "ca.pem", .cert = "alice"}, &nc);
  CHECK(st != NATS_OK);
  if (st == NATS_OK) natsConnection_Destroy(nc);
  CHECK(logged(*server, "TLS handshake error: certificate not pinned", from));

  // A pin that is not a SHA-256 in hex is a startup error.
  ConfFile bad("pinned-bad.conf", tls_block("server", "  pinned_certs: [\"abc\"]\n"));
  std::string out;
  CHECK(run_command({binary(kind), "-a", "127.0.0.1", "-p", "-1", "-c", bad.path}, &out) != 0);
  CHECK(out.find("pinned_certs") != std::string::npos);
}

namespace {

// The port after `prefix` in the server's log (0 if none within a few seconds).
int logged_port(ServerProcess& s, const std::string& prefix) {
  if (!logged(s, prefix)) return 0;
  const std::string log = s.log();
  const std::size_t at = log.find(prefix) + prefix.size();
  const std::string hostport = log.substr(at, log.find('\n', at) - at);
  return std::atoi(hostport.substr(hostport.rfind(':') + 1).c_str());
}

// GET `path` over https with the openssl CLI (trusting ca.pem, checking the server's
// certificate); the whole response, headers first; empty if the handshake failed.
std::string https_get(int port, const std::string& path, const std::string& trust = "ca.pem") {
  const Certs& c = certs();
  const std::string request = c("request-" + std::to_string(port));
  std::ofstream(request) << "GET " << path << " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  const std::string cmd = "timeout 10 openssl s_client -quiet -verify_return_error -verify_ip 127.0.0.1 -CAfile " +
                          c(trust) + " -connect 127.0.0.1:" + std::to_string(port) + " < " + request + " 2>/dev/null";
  std::string out;
  run_command({"sh", "-c", cmd}, &out);
  fs::remove(request);
  return out;
}

// The number after "key": in a JSON text (nats-server indents, so spaces may follow the colon).
long json_int(const std::string& body, const std::string& key) {
  const std::size_t at = body.find("\"" + key + "\"");
  if (at == std::string::npos) return -1;
  const std::size_t colon = body.find(':', at);
  return std::strtol(body.c_str() + colon + 1, nullptr, 10);
}

}  // namespace

TEST_CASE("https monitoring: -ms and https_port serve /varz over TLS", "[tls][https]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const Certs& c = certs();
  {
    INFO("flags: --tls ... -ms -1");
    auto server = start(kind, {"--tls", "--tlscert", c("server.pem"), "--tlskey", c("server.key"), "-ms", "-1"});
    const int port = logged_port(*server, "Starting https monitor on ");
    REQUIRE(port > 0);
    const std::string reply = https_get(port, "/varz");
    INFO(reply);
    CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
    // nats-server 2.9.10 reports the configured value (-1: "pick one"); forest-server the bound
    // port, as it does for http_port.
    CHECK(json_int(reply, "https_port") == (kind == "forest" ? port : -1));
    CHECK(json_int(reply, "http_port") == 0);
    // Plain HTTP on the https port: Go's answer (a 400 in plain text), then closed.
    RawClient raw("127.0.0.1", port);
    raw.send("GET /varz HTTP/1.0\r\n\r\n");
    const std::string plain = raw.read_until_closed(3s);
    CHECK(plain.rfind("HTTP/1.0 400 Bad Request", 0) == 0);
    CHECK(plain.find("Client sent an HTTP request to an HTTPS server.") != std::string::npos);
  }
  {
    // The https port asks for no client certificate, even when the client port requires one.
    INFO("config: https_port with tls { verify: true }");
    ConfFile conf("https.conf", "https_port: -1\n" +
                                    tls_block("server", "  ca_file: \"" + c("ca.pem") + "\"\n  verify: true\n"));
    auto server = start(kind, conf);
    const int port = logged_port(*server, "Starting https monitor on ");
    REQUIRE(port > 0);
    const std::string reply = https_get(port, "/connz");
    INFO(reply);
    CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(reply.find("\"num_connections\"") != std::string::npos);
  }
}

TEST_CASE("https monitoring: without a tls block, or with http_port too, is a startup error", "[tls][https]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  std::string out;
  CHECK(run_command({binary(kind), "-a", "127.0.0.1", "-p", "-1", "-ms", "-1"}, &out) != 0);
  CHECK(out.find("TLS cert and key required for HTTPS") != std::string::npos);
  ConfFile conf("https-both.conf", "https_port: 18999\nhttp_port: 18998\n" + tls_block("server", ""));
  CHECK(run_command({binary(kind), "-a", "127.0.0.1", "-p", "-1", "-c", conf.path}, &out) != 0);
  INFO(out);
  CHECK(out.find("can't specify both HTTP (18998) and HTTPs (18999) ports") != std::string::npos);
}

TEST_CASE("https monitoring reload: new sessions get the new certificate", "[tls][https][reload]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  ConfFile conf("https-reload.conf", "https_port: -1\n" + tls_block("server", ""));
  auto server = start(kind, conf);
  const int port = logged_port(*server, "Starting https monitor on ");
  REQUIRE(port > 0);
  CHECK(https_get(port, "/varz").rfind("HTTP/1.1 200", 0) == 0);
  const std::size_t from = server->log().size();
  conf.write("https_port: -1\n" + tls_block("server2", ""));
  server->send_signal(SIGHUP);
  REQUIRE(logged(*server, "Reloaded server configuration", from));
  CHECK(https_get(port, "/varz", "ca2.pem").rfind("HTTP/1.1 200", 0) == 0);
  CHECK(https_get(port, "/varz", "ca.pem").empty());
}

TEST_CASE("https monitoring: a client that stalls in the handshake is closed, others are served", "[tls][https][timeout]") {
  // forest-server only: nats-server 2.9.10's http.Server has no handshake deadline (it waits).
  ConfFile conf("https-stall.conf", "https_port: -1\n" + tls_block("server", ""));
  auto server = start("forest", conf);
  const int port = logged_port(*server, "Starting https monitor on ");
  REQUIRE(port > 0);
  RawClient stalled("127.0.0.1", port);
  REQUIRE(stalled.connected());
  CHECK(https_get(port, "/healthz").rfind("HTTP/1.1 200", 0) == 0);
  // The monitor's read deadline (5 s) bounds the handshake too.
  CHECK(stalled.read_until_closed(10s).empty());
  CHECK(stalled.peer_closed());
}

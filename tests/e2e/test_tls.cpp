// TLS on the client port end to end: certificates made here with the openssl CLI (a throwaway
// CA, a server certificate for 127.0.0.1/localhost, client certificates: good, expired, from
// another CA), libnats over TLS and raw TCP clients, against forest-server and, with the same
// config file, nats-server 2.9.10. Every case runs on both unless FOREST_SKIP_ORACLE=1.
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
namespace fs = std::filesystem;

namespace {

struct NatsLib {
  NatsLib() { nats_Open(-1); }
};
NatsLib nats_lib;

// The certificates of this run, made once in a scratch directory that goes at exit.
struct Certs {
  fs::path dir;
  Certs() {
    dir = fs::current_path() / ("forest-tls-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "ca.cnf") << R"([ca]
default_ca = own
[own]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
[srv]
subjectAltName = IP:127.0.0.1,DNS:localhost
[cli]
extendedKeyUsage = clientAuth
)";
    // ca signs server, client and expired; ca2 (another CA) signs wrongca and server2.
    const std::string script = "set -e; cd " + dir.string() + R"(; touch index.txt; echo 01 > serial
for c in ca ca2; do openssl req -x509 -newkey rsa:2048 -nodes -keyout $c.key -out $c.pem -days 3 -subj /CN=forest-test-$c; done
mk() { n=$1; cn=$2; ext=$3; ca=$4; shift 4
  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$cn
  openssl ca -batch -config ca.cnf -cert $ca.pem -keyfile $ca.key -in $n.csr -out $n.pem -extensions $ext -notext "$@"; }
mk server localhost srv ca -days 3
mk client client cli ca -days 3
mk expired client cli ca -startdate 20200101000000Z -enddate 20200102000000Z
mk wrongca client cli ca2 -days 3
mk server2 localhost srv ca2 -days 3
echo not a certificate > garbage.pem
)";
    std::string out;
    ok = run_command({"sh", "-c", script}, &out) == 0;
    if (!ok) error = out;
  }
  ~Certs() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  [[nodiscard]] std::string operator()(const std::string& name) const { return (dir / name).string(); }
  bool ok = false;
  std::string error;
};

const Certs& certs() {
  static Certs c;
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

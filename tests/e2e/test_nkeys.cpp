// nkey users end to end: the nonce in INFO, the Ed25519 signature of it in CONNECT, checked
// against the configured public key; every kind of bad signature refused. Raw protocol and
// libnats (natsOptions_SetNKeyFromSeed), each against forest-server and, with the same config
// file, nats-server 2.9.10 (unless FOREST_SKIP_ORACLE=1). The keys are made by the test.
#include <catch2/catch.hpp>

#include <nats/nats.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "nkeys.hpp"
#include "raw_client.hpp"
#include "run_command.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;
namespace nkeys = forest::broker::nkeys;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("forest-nkey-" + std::to_string(::getpid()) + "-" + name)).string();
}

struct File {
  std::string path;
  File(const std::string& name, const std::string& text) : path(temp_path(name)) {
    std::ofstream(path, std::ios::trunc) << text;
  }
  ~File() { std::filesystem::remove(path); }
};

std::unique_ptr<ServerProcess> start(const std::string& kind, const File& conf) {
  auto s = ServerProcess::start(kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(),
                                {"-a", "127.0.0.1", "-p", "-1", "-c", conf.path});
  REQUIRE(s);
  return s;
}

// The "nonce" of an INFO line ("" when it has none).
std::string nonce_of(const std::string& info) {
  const std::string key = "\"nonce\":\"";
  const auto at = info.find(key);
  if (at == std::string::npos) return {};
  const auto end = info.find('"', at + key.size());
  return info.substr(at + key.size(), end - at - key.size());
}

// Connects, reads INFO (its nonce into `nonce`), sends CONNECT with `fields` and a PING;
// returns the first line of the answer.
std::string try_connect(const ServerProcess& s, const std::string& fields, std::string* nonce_out = nullptr,
                        const std::function<std::string(const std::string&)>& fields_for_nonce = {}) {
  RawClient c("127.0.0.1", s.client_port());
  const std::string info = c.read_line(3s);
  const std::string nonce = nonce_of(info);
  if (nonce_out != nullptr) *nonce_out = nonce;
  const std::string f = fields_for_nonce ? fields_for_nonce(nonce) : fields;
  c.send("CONNECT {\"verbose\":false,\"pedantic\":false" + f + "}\r\nPING\r\n");
  return c.read_line(3s);
}

std::string signed_fields(const nkeys::UserKeyPair& k, const std::string& nonce) {
  return ",\"nkey\":\"" + k.public_key + "\",\"sig\":\"" + nkeys::sign_nonce(k, nonce) + "\"";
}

}  // namespace

TEST_CASE("nkeys: text form, signature check", "[nkeys][unit]") {
  const auto k = nkeys::make_user_key_pair();
  CHECK(k.public_key.size() == 56);
  CHECK(k.public_key.front() == 'U');
  CHECK(k.seed.substr(0, 2) == "SU");
  CHECK(nkeys::is_valid_user_public_key(k.public_key));
  std::string broken = k.public_key;
  broken[10] = broken[10] == 'A' ? 'B' : 'A';  // the checksum no longer fits
  CHECK_FALSE(nkeys::is_valid_user_public_key(broken));
  std::string account_like = k.public_key;
  account_like[0] = 'N';  // another kind's prefix
  CHECK_FALSE(nkeys::is_valid_user_public_key(account_like));
  CHECK_FALSE(nkeys::is_valid_user_public_key(k.public_key.substr(0, 55)));
  const std::string nonce = nkeys::make_nonce();
  CHECK(nonce.size() == 15);
  const std::string sig = nkeys::sign_nonce(k, nonce);
  CHECK(nkeys::verify_nonce_signature(k.public_key, nonce, sig));
  CHECK_FALSE(nkeys::verify_nonce_signature(k.public_key, nkeys::make_nonce(), sig));
  CHECK_FALSE(nkeys::verify_nonce_signature(nkeys::make_user_key_pair().public_key, nonce, sig));
  CHECK_FALSE(nkeys::verify_nonce_signature(k.public_key, nonce, "not-base64!"));
  CHECK_FALSE(nkeys::verify_nonce_signature(k.public_key, nonce, sig.substr(0, 40)));
}

TEST_CASE("nkeys: a signed nonce lets the user in; bad signatures do not", "[nkeys]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const auto user = nkeys::make_user_key_pair();
  const auto stranger = nkeys::make_user_key_pair();
  File conf("users.conf", "authorization { users = [ {nkey: " + user.public_key + "}, {user: pw, password: p} ] }\n");
  auto s = start(kind, conf);

  std::string nonce;
  CHECK(try_connect(*s, "", &nonce, [&](const std::string& n) { return signed_fields(user, n); }) == "PONG\r\n");
  CHECK(nonce.size() == 15);
  // Password users go on as before.
  CHECK(try_connect(*s, ",\"user\":\"pw\",\"pass\":\"p\"") == "PONG\r\n");

  const std::string refused = "-ERR 'Authorization Violation'\r\n";
  // A signature of an earlier connection's nonce (a replay).
  const std::string replay = signed_fields(user, nonce);
  CHECK(try_connect(*s, replay) == refused);
  // Garbage, a truncated one, none at all.
  CHECK(try_connect(*s, ",\"nkey\":\"" + user.public_key + "\",\"sig\":\"AAAA\"") == refused);
  CHECK(try_connect(*s, ",\"nkey\":\"" + user.public_key + "\",\"sig\":\"%%%\"") == refused);
  CHECK(try_connect(*s, ",\"nkey\":\"" + user.public_key + "\"") == refused);
  // A key nobody configured, correctly signed; a configured key signed by another key.
  CHECK(try_connect(*s, "", nullptr, [&](const std::string& n) { return signed_fields(stranger, n); }) == refused);
  CHECK(try_connect(*s, "", nullptr, [&](const std::string& n) {
          return ",\"nkey\":\"" + user.public_key + "\",\"sig\":\"" + nkeys::sign_nonce(stranger, n) + "\"";
        }) == refused);
  // The server's log never shows the signature.
  CHECK(s->log().find(nkeys::sign_nonce(user, nonce)) == std::string::npos);
}

TEST_CASE("nkeys: INFO has a nonce only with nkey users; bad keys in the config", "[nkeys]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  {
    File conf("plain.conf", "authorization { users = [ {user: pw, password: p} ] }\n");
    auto s = start(kind, conf);
    std::string nonce;
    (void)try_connect(*s, ",\"user\":\"pw\",\"pass\":\"p\"", &nonce);
    CHECK(nonce.empty());
  }
  const std::string binary = kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
  auto refused = [&](const std::string& text, const std::string& expect) {
    File conf("bad.conf", text);
    std::string out;
    CHECK(run_command({binary, "-t", "-c", conf.path}, &out) != 0);
    INFO(out);
    CHECK(out.find(expect) != std::string::npos);
  };
  refused("authorization { users = [ {nkey: UNOTAKEY} ] }\n", "Not a valid public nkey for a user");
  const auto k = nkeys::make_user_key_pair();
  refused("authorization { users = [ {nkey: " + k.public_key + ", user: x} ] }\n",
          "Nkey users do not take usernames or passwords");
}

TEST_CASE("nkeys: libnats signs with a seed file; in an account too", "[nkeys][libnats]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const auto user = nkeys::make_user_key_pair();
  File seed("user.nk", user.seed + "\n");
  File conf("acct.conf", "accounts { A { users = [ {nkey: " + user.public_key + "} ] } }\n");
  auto s = start(kind, conf);
  natsOptions* o = nullptr;
  REQUIRE(natsOptions_Create(&o) == NATS_OK);
  const std::string url = "nats://127.0.0.1:" + std::to_string(s->client_port());
  natsOptions_SetURL(o, url.c_str());
  natsOptions_SetAllowReconnect(o, false);
  REQUIRE(natsOptions_SetNKeyFromSeed(o, user.public_key.c_str(), seed.path.c_str()) == NATS_OK);
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_Connect(&nc, o) == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, nc, "nk.test") == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc, "nk.test", "signed") == NATS_OK);
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK);
  CHECK(std::string(natsMsg_GetData(m)) == "signed");
  natsMsg_Destroy(m);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
  // The wrong seed for the key: refused.
  const auto other = nkeys::make_user_key_pair();
  File wrong("other.nk", other.seed + "\n");
  REQUIRE(natsOptions_SetNKeyFromSeed(o, user.public_key.c_str(), wrong.path.c_str()) == NATS_OK);
  nc = nullptr;
  CHECK(natsConnection_Connect(&nc, o) != NATS_OK);
  if (nc != nullptr) natsConnection_Destroy(nc);
  natsOptions_Destroy(o);
}

// The client port's TLS handshake under the fuzzer. A real OpenSSL client with a client
// certificate handshakes with a server context made by make_tls_server_context (verify on, as
// a verify_and_map deployment has it), over memory BIOs, and the input decides which bytes are
// flipped, dropped or cut on their way in either direction, so that every state of the server's
// handshake meets broken records. When a handshake completes, the server side reads the peer's
// certificate as a connection does (cert_identity, then map_certificate_to_user) and a CONNECT
// line crosses. Other inputs go straight to the certificate reader (as DER) and the DN parser.
//
// Built with g++ and the mutation driver (tests/fuzz/run.sh): tls.cpp uses std::expected.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cert_identity.hpp"
#include "test_certs.hpp"
#include "tls.hpp"
#include "tls_stream.hpp"

using namespace forest::broker;

namespace {

struct Setup {
  std::shared_ptr<TlsContext> server;
  SSL_CTX* client = nullptr;
  std::vector<User> users;
};

const Setup& setup() {
  static const Setup s = [] {
    Setup out;
    const auto& certs = forest::testing::test_certs();
    if (!certs.ok) {
      std::fprintf(stderr, "fuzz_tls: test certificates: %s\n", certs.error.c_str());
      std::abort();
    }
    TlsOptions o;
    o.enabled = true;
    o.cert_file = certs("server.pem");
    o.key_file = certs("server.key");
    o.ca_file = certs("ca.pem");
    o.verify = true;
    o.map = true;
    auto ctx = make_tls_server_context(o);
    if (!ctx) {
      std::fprintf(stderr, "fuzz_tls: server context: %s\n", ctx.error().c_str());
      std::abort();
    }
    out.server = *ctx;
    out.client = SSL_CTX_new(TLS_client_method());
    SSL_CTX_use_certificate_file(out.client, certs("carol.pem").c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(out.client, certs("carol.key").c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_load_verify_locations(out.client, certs("ca.pem").c_str(), nullptr);
    SSL_CTX_set_verify(out.client, SSL_VERIFY_PEER, nullptr);
    for (const char* name : {"alice@example.com", "bob.example.com", "CN=carol,OU=Eng,O=Acme,C=US", "plain"}) {
      User u;
      u.username = name;
      out.users.push_back(u);
    }
    return out;
  }();
  return s;
}

// Where and how the bytes of one direction are damaged: (offset, what) pairs from the input;
// what = 0 drops the byte, otherwise it is XORed in; an offset past the end cuts the stream.
struct Damage {
  std::vector<std::pair<uint32_t, uint8_t>> edits;
  uint32_t cut = UINT32_MAX;
  uint32_t seen = 0;  // bytes of this direction so far

  std::string apply(const std::string& in) {
    std::string out;
    for (unsigned char c : in) {
      const uint32_t at = seen++;
      if (at >= cut) break;
      bool dropped = false;
      for (const auto& [off, what] : edits) {
        if (off != at) continue;
        if (what == 0) {
          dropped = true;
        } else {
          c = static_cast<unsigned char>(c ^ what);
        }
      }
      if (!dropped) out.push_back(static_cast<char>(c));
    }
    return out;
  }
};

std::string drain(BIO* b) {
  std::string out;
  char buf[4096];
  for (;;) {
    const int n = BIO_read(b, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// The user the peer's certificate maps to (null: none).
const User* read_identity(SSL* ssl, const std::vector<User>& users) {
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer == nullptr) return nullptr;
  const User* user = nullptr;
  if (auto id = cert_identity(peer)) user = map_certificate_to_user(*id, users).user;
  X509_free(peer);
  return user;
}

struct Outcome {
  bool connected = false;      // both sides finished the handshake and the CONNECT line crossed
  const User* user = nullptr;  // what the client certificate mapped to
};

Outcome handshake(const uint8_t* data, size_t size) {
  Outcome outcome;
  const Setup& s = setup();
  Damage to_server, to_client;
  // 5-byte edits: direction (low bit), offset (3 bytes), what; a first edit with what 0xff
  // in a direction is its cut instead.
  for (size_t i = 0; i + 5 <= size; i += 5) {
    Damage& d = (data[i] & 1) != 0 ? to_client : to_server;
    const uint32_t off = (uint32_t{data[i + 1]} << 16) | (uint32_t{data[i + 2]} << 8) | data[i + 3];
    if (data[i + 4] == 0xff && d.cut == UINT32_MAX) {
      d.cut = off;
    } else {
      d.edits.emplace_back(off % 8192, data[i + 4]);
    }
  }
  SSL* server = SSL_new(s.server->ssl.native_handle());
  SSL* client = SSL_new(s.client);
  BIO* s_in = BIO_new(BIO_s_mem());
  BIO* s_out = BIO_new(BIO_s_mem());
  BIO* c_in = BIO_new(BIO_s_mem());
  BIO* c_out = BIO_new(BIO_s_mem());
  SSL_set_bio(server, s_in, s_out);
  SSL_set_bio(client, c_in, c_out);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  bool server_done = false, client_done = false, failed = false;
  for (int round = 0; round < 32 && !failed && !(server_done && client_done); ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(client);
      if (r == 1) {
        client_done = true;
      } else if (const int e = SSL_get_error(client, r); e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        failed = true;
      }
    }
    const std::string c2s = to_server.apply(drain(c_out));
    if (!c2s.empty()) BIO_write(s_in, c2s.data(), static_cast<int>(c2s.size()));
    if (!server_done) {
      const int r = SSL_do_handshake(server);
      if (r == 1) {
        server_done = true;
        outcome.user = read_identity(server, s.users);
      } else if (const int e = SSL_get_error(server, r); e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        failed = true;
      }
    }
    const std::string s2c = to_client.apply(drain(s_out));
    if (!s2c.empty()) BIO_write(c_in, s2c.data(), static_cast<int>(s2c.size()));
    if (c2s.empty() && s2c.empty() && round > 0 && !(server_done && client_done)) break;  // stuck: nothing moves
  }
  if (server_done && client_done) {
    const std::string line = "CONNECT {\"verbose\":false}\r\n";
    SSL_write(client, line.data(), static_cast<int>(line.size()));
    const std::string c2s = to_server.apply(drain(c_out));
    BIO_write(s_in, c2s.data(), static_cast<int>(c2s.size()));
    char buf[256];
    const int n = SSL_read(server, buf, sizeof buf);
    outcome.connected = n > 0 && std::string(buf, static_cast<std::size_t>(n)) == line;
  }
  SSL_free(server);
  SSL_free(client);
  ERR_clear_error();
  return outcome;
}

void certificate(const uint8_t* data, size_t size) {
  const unsigned char* p = data;
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(size));
  if (x == nullptr) {
    ERR_clear_error();
    return;
  }
  if (auto id = cert_identity(x)) (void)map_certificate_to_user(*id, setup().users);
  X509_free(x);
  ERR_clear_error();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Once: an undamaged handshake must succeed and map carol's certificate to her user, or the
  // harness would be fuzzing a handshake that never gets anywhere.
  static const bool checked = [] {
    const Outcome clean = handshake(nullptr, 0);
    if (!clean.connected || clean.user == nullptr || clean.user->username != "CN=carol,OU=Eng,O=Acme,C=US") {
      std::fprintf(stderr, "fuzz_tls: the undamaged handshake did not connect and map carol\n");
      std::abort();
    }
    return true;
  }();
  (void)checked;
  if (size == 0) return 0;
  switch (data[0] % 4) {
    case 0:
    case 1: (void)handshake(data + 1, size - 1); break;
    case 2: certificate(data + 1, size - 1); break;
    default: (void)parse_dn(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1)); break;
  }
  return 0;
}

// Building OpenSSL server contexts from TLS options, and the names nats-server's options use
// for ciphers and curves mapped onto OpenSSL's. See tls.hpp.
#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <filesystem>
#include <utility>

#include "tls_stream.hpp"

namespace forest::broker {
namespace {

// Go's names (crypto/tls, as nats-server's cipher_suites takes them) and OpenSSL's.
// An empty OpenSSL name: a TLS 1.3 suite, which Go's configuration cannot restrict either.
constexpr std::array<std::pair<std::string_view, std::string_view>, 19> kCiphers{{
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_AES_128_GCM_SHA256", ""},
    {"TLS_AES_256_GCM_SHA384", ""},
    {"TLS_CHACHA20_POLY1305_SHA256", ""},
}};

// Known to nats-server, not offered by OpenSSL 3.
constexpr std::array<std::string_view, 5> kUnavailableCiphers{
    "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"};

// nats-server's defaults (defaultCipherSuites, defaultCurvePreferences).
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
constexpr const char* kDefaultCurves = "X25519:P-256:P-384:P-521";

// Everything OpenSSL queued about the last failure, oldest first.
std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out.empty() ? std::string("unknown OpenSSL error") : out;
}

std::expected<void, std::string> readable_file(const std::string& path, const char* key) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return std::unexpected(std::string(key) + " \"" + path + "\": no such file");
  }
  return {};
}

}  // namespace

std::expected<std::string, std::string> openssl_cipher_name(std::string_view go_name) {
  for (const auto& [go, ossl] : kCiphers) {
    if (go == go_name) return std::string(ossl);
  }
  for (std::string_view u : kUnavailableCiphers) {
    if (u == go_name) return std::unexpected("cipher " + std::string(go_name) + " is not supported by forest-server (OpenSSL 3 does not offer it)");
  }
  return std::unexpected("unrecognized cipher " + std::string(go_name));
}

std::expected<std::string, std::string> openssl_curve_name(std::string_view go_name) {
  if (go_name == "X25519") return std::string("X25519");
  if (go_name == "CurveP256") return std::string("P-256");
  if (go_name == "CurveP384") return std::string("P-384");
  if (go_name == "CurveP521") return std::string("P-521");
  return std::unexpected("unrecognized curve preference " + std::string(go_name));
}

bool tls_context_verifies(const TlsContext& ctx) { return ctx.verify; }

namespace {

// A server context (the client port, https) or one for both roles (routes: `verify` forced, the
// peer's certificate checked against the CA file either way, as nats-server's getTLSConfig does).
std::expected<std::shared_ptr<TlsContext>, std::string> make_context(const TlsOptions& o, bool both_roles) {
  if (o.cert_file.empty()) return std::unexpected(std::string("TLS: missing 'cert_file' in TLS configuration"));
  if (o.key_file.empty()) return std::unexpected(std::string("TLS: missing 'key_file' in TLS configuration"));
  auto ctx = std::make_shared<TlsContext>(both_roles ? asio::ssl::context::tls : asio::ssl::context::tls_server);
  ctx->insecure = both_roles && o.insecure;
  SSL_CTX* c = ctx->ssl.native_handle();
  ERR_clear_error();
  auto fail = [](const std::string& what) { return std::unexpected("TLS: " + what + ": " + openssl_errors()); };

  const int min_version = o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (!o.min_version.empty() && o.min_version != "1.2" && o.min_version != "1.3") {
    return std::unexpected("TLS: unsupported min_version \"" + o.min_version + "\" (1.2 or 1.3)");
  }
  SSL_CTX_set_min_proto_version(c, min_version);
  // The server's order of preference wins, as nats-server sets PreferServerCipherSuites.
  SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Idle connections give their read and write buffers back (10,000 idle TLS clients).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);

  std::string ciphers;
  for (const std::string& name : o.cipher_suites) {
    auto ossl = openssl_cipher_name(name);
    if (!ossl) return std::unexpected("TLS: " + ossl.error());
    if (ossl->empty()) continue;  // TLS 1.3 suites stay OpenSSL's (as Go's stay Go's)
    if (!ciphers.empty()) ciphers += ':';
    ciphers += *ossl;
  }
  if (o.cipher_suites.empty()) ciphers = kDefaultCiphers;
  if (!ciphers.empty() && SSL_CTX_set_cipher_list(c, ciphers.c_str()) != 1) return fail("cipher_suites");

  std::string curves;
  for (const std::string& name : o.curve_preferences) {
    auto ossl = openssl_curve_name(name);
    if (!ossl) return std::unexpected("TLS: " + ossl.error());
    if (!curves.empty()) curves += ':';
    curves += *ossl;
  }
  if (curves.empty()) curves = kDefaultCurves;
  if (SSL_CTX_set1_groups_list(c, curves.c_str()) != 1) return fail("curve_preferences");

  if (auto r = readable_file(o.cert_file, "cert_file"); !r) return std::unexpected("TLS: error parsing X509 certificate/key pair: " + r.error());
  if (auto r = readable_file(o.key_file, "key_file"); !r) return std::unexpected("TLS: error parsing X509 certificate/key pair: " + r.error());
  if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1) {
    return fail("error parsing X509 certificate/key pair: cert_file \"" + o.cert_file + "\"");
  }
  if (SSL_CTX_use_PrivateKey_file(c, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("error parsing X509 certificate/key pair: key_file \"" + o.key_file + "\"");
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return fail("error parsing X509 certificate/key pair: private key does not match public key");
  }

  if (!o.ca_file.empty()) {
    if (auto r = readable_file(o.ca_file, "ca_file"); !r) return std::unexpected("TLS: " + r.error());
    if (SSL_CTX_load_verify_locations(c, o.ca_file.c_str(), nullptr) != 1) {
      return fail("failed to parse root ca certificate \"" + o.ca_file + "\"");
    }
    // Tell clients which CAs we accept (Go sends its ClientCAs' names too).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str())) SSL_CTX_set_client_CA_list(c, names);
  } else if (o.verify || both_roles) {
    // No ca_file: peer certificates are checked against the system's roots, as in Go.
    SSL_CTX_set_default_verify_paths(c);
  }
  if (o.verify || both_roles) {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    ctx->verify = true;
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  }
  ctx->pinned = o.pinned_certs;
  // Sessions are not resumed across connections (nats-server keeps no session cache either).
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 0);
  return ctx;
}

}  // namespace

std::expected<std::shared_ptr<TlsContext>, std::string> make_tls_server_context(const TlsOptions& o) {
  return make_context(o, false);
}

std::expected<std::shared_ptr<TlsContext>, std::string> make_tls_route_context(const TlsOptions& o) {
  return make_context(o, true);
}

void TlsStream::expect_peer(const std::string& name, bool insecure) {
  SSL* ssl = stream.native_handle();
  if (insecure) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  if (name.empty()) return;
  error_code ec;
  (void)asio::ip::make_address(name, ec);
  if (!ec) {
    // An IP address: Go checks the certificate's IP SANs and sends no SNI.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    SSL_set1_host(ssl, name.c_str());
  }
}

std::string TlsStream::version() const {
  const SSL* ssl = const_cast<asio::ssl::stream<tcp::socket&>&>(stream).native_handle();
  switch (SSL_version(ssl)) {
    case TLS1_2_VERSION: return "1.2";
    case TLS1_3_VERSION: return "1.3";
    default: return SSL_get_version(ssl);
  }
}

std::optional<CertIdentity> TlsStream::peer_identity() {
  return cert_identity(SSL_get0_peer_certificate(stream.native_handle()));
}

std::string TlsStream::cipher() const {
  const SSL* ssl = const_cast<asio::ssl::stream<tcp::socket&>&>(stream).native_handle();
  const char* name = SSL_get_cipher_name(ssl);
  return name != nullptr ? name : "";
}

std::string TlsStream::error_text(const error_code& ec) {
  std::string text = ec.message();
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) text = "EOF";
  if (ec.category() == asio::error::get_ssl_category()) {
    // Plain text where a ClientHello belongs: OpenSSL guesses at HTTP ("CONNECT" reads as a
    // proxy request); say what happened, as nats-server (Go) does.
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason == SSL_R_HTTPS_PROXY_REQUEST || reason == SSL_R_HTTP_REQUEST || reason == SSL_R_WRONG_VERSION_NUMBER) {
      text = "first record does not look like a TLS handshake";
    }
  }
  SSL* ssl = stream.native_handle();
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    text += ": ";
    text += X509_verify_cert_error_string(verify);
  }
  return text;
}

}  // namespace forest::broker

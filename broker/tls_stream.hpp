// The TLS layer of a connection: an Asio SSL stream over the connection's own socket (by
// reference, so the socket stays where the plain path keeps it: its descriptor, its closer).
// Owned by the connection, on its I/O thread only; it keeps its TlsContext alive.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio.hpp"

#include <boost/asio/ssl.hpp>

#include "cert_identity.hpp"
#include "tls.hpp"

namespace forest::broker {

struct TlsContext {
  explicit TlsContext(asio::ssl::context::method m) : ssl(m) {}
  asio::ssl::context ssl;
  bool verify = false;  // a client certificate is required and verified
  std::vector<std::string> pinned;  // pinned_certs (hex SHA-256 of the SPKI); empty: any
  bool insecure = false;  // routes: a dialed peer's certificate is not checked
};

struct TlsStream {
  TlsStream(tcp::socket& socket, std::shared_ptr<TlsContext> c) : ctx(std::move(c)), stream(socket, ctx->ssl) {}
  std::shared_ptr<TlsContext> ctx;
  asio::ssl::stream<tcp::socket&> stream;
  // After the handshake: "1.3" and OpenSSL's cipher name, for the debug log.
  [[nodiscard]] std::string version() const;
  [[nodiscard]] std::string cipher() const;
  // A failed handshake's cause: OpenSSL's reason, and why the peer's certificate was refused.
  [[nodiscard]] std::string error_text(const error_code& ec);
  // Before a client-side handshake: the peer must present a certificate valid for `name`
  // (a host name, with SNI, or an IP address); `insecure`: not checked at all.
  void expect_peer(const std::string& name, bool insecure);
  // After the handshake: what the peer's certificate says (none without one).
  [[nodiscard]] std::optional<CertIdentity> peer_identity();
};

}  // namespace forest::broker

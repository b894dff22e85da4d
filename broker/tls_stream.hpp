// The TLS layer of a connection: an Asio SSL stream over the connection's own socket (by
// reference, so the socket stays where the plain path keeps it: its descriptor, its closer).
// Owned by the connection, on its I/O thread only; it keeps its TlsContext alive.
#pragma once

#include <memory>
#include <string>

#include "asio.hpp"

#include <boost/asio/ssl.hpp>

#include "tls.hpp"

namespace forest::broker {

struct TlsContext {
  explicit TlsContext(asio::ssl::context::method m) : ssl(m) {}
  asio::ssl::context ssl;
  bool verify = false;  // a client certificate is required and verified
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
};

}  // namespace forest::broker

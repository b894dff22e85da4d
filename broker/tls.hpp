// TLS for the server's listeners: the options of a tls {} block (or the --tls flags) turned
// into an OpenSSL context that every new connection of that listener shares. Built at startup
// and on each reload (new connections use the new certificates; open ones keep theirs).
//
// This header is light on purpose (no OpenSSL, no Asio SSL): options parsing checks names with
// it. The stream type connections wrap their socket in lives in tls_stream.hpp.
//
// The client port, the route port (cluster { tls {} }, make_tls_route_context) and the
// monitor's https port each build their own TlsContext from the same options type and wrap
// their sockets the same way (see broker/README.md, "Transport").
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include "options.hpp"

namespace forest::broker {

// An OpenSSL server context plus what INFO and the handshake need to know about it. Immutable
// once built; shared by the connections that handshook with it (they keep it alive).
struct TlsContext;

// Reads the certificate, key and CA files and builds the context. The error says which file
// and why (missing, not PEM, key not matching the certificate, unknown cipher).
[[nodiscard]] std::expected<std::shared_ptr<TlsContext>, std::string> make_tls_server_context(const TlsOptions& opts);

// A context for routes: both roles (an accepted route is the server side of the handshake, a
// dialed one the client side), the peer's certificate always required and verified against
// ca_file (nats-server forces that on cluster TLS); `insecure` skips the check of a dialed
// peer's certificate.
[[nodiscard]] std::expected<std::shared_ptr<TlsContext>, std::string> make_tls_route_context(const TlsOptions& opts);

// Go's cipher suite name (nats-server's cipher_suites) as OpenSSL names it: an empty string for
// a TLS 1.3 suite (Go, and so nats-server, always allows those), or an error: unknown to
// nats-server, or known to it but not offered by OpenSSL 3 (RC4, 3DES).
[[nodiscard]] std::expected<std::string, std::string> openssl_cipher_name(std::string_view go_name);
// Go's curve name (curve_preferences: X25519, CurveP256, CurveP384, CurveP521) as OpenSSL's group.
[[nodiscard]] std::expected<std::string, std::string> openssl_curve_name(std::string_view go_name);

// Whether the context requires and verifies client certificates (INFO's tls_verify).
[[nodiscard]] bool tls_context_verifies(const TlsContext& ctx);

}  // namespace forest::broker

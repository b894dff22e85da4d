// Route URLs as nats-server takes them: `nats://[user:pass@]host:port` (also `nats-route://`
// and `tls://`), IPv6 hosts in brackets (`nats://[2a01:4f8::1]:6222`), and the bare
// `host:port` form of connect URLs.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace forest::broker {

struct RouteUrl {
  std::string scheme;  // "nats", "nats-route", "tls"
  std::string user, pass;
  std::string host;  // without brackets
  int port = 0;

  // "host:port" with brackets around an IPv6 host (what connect_urls and logs show).
  [[nodiscard]] std::string host_port() const;
  // The URL without credentials, e.g. for logs: nats-route://host:port
  [[nodiscard]] std::string redacted() const;
  // Same host (case-insensitive) and port.
  [[nodiscard]] bool same_endpoint(const RouteUrl& other) const;
};

// Parses a route URL; a missing port is `default_port`. The error says what is wrong.
[[nodiscard]] std::expected<RouteUrl, std::string> parse_route_url(std::string_view text, int default_port = 6222);

// host:port with brackets when the host is IPv6.
[[nodiscard]] std::string join_host_port(std::string_view host, int port);

}  // namespace forest::broker

#include "route_url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace forest::broker {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Percent-decoding of user and password, as Go's url.Parse does for userinfo.
bool unescape(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int v = 0;
    const auto r = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
    if (r.ec != std::errc() || r.ptr != in.data() + i + 3) return false;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return true;
}

}  // namespace

std::string join_host_port(std::string_view host, int port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

std::string RouteUrl::host_port() const { return join_host_port(host, port); }

std::string RouteUrl::redacted() const { return (scheme.empty() ? std::string("nats") : scheme) + "://" + host_port(); }

bool RouteUrl::same_endpoint(const RouteUrl& other) const { return port == other.port && lower(host) == lower(other.host); }

std::expected<RouteUrl, std::string> parse_route_url(std::string_view text, int default_port) {
  RouteUrl url;
  std::string_view rest = text;
  if (const auto sep = rest.find("://"); sep != std::string_view::npos) {
    url.scheme = lower(rest.substr(0, sep));
    rest.remove_prefix(sep + 3);
    if (url.scheme != "nats" && url.scheme != "nats-route" && url.scheme != "tls" && url.scheme != "route") {
      return std::unexpected("unsupported scheme '" + url.scheme + "' in route URL '" + std::string(text) + "'");
    }
  }
  // A trailing slash (nats-route://host:port/) and anything after it is not part of the host.
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    if (!unescape(userinfo.substr(0, colon), url.user) ||
        (colon != std::string_view::npos && !unescape(userinfo.substr(colon + 1), url.pass))) {
      return std::unexpected("invalid escape in the credentials of route URL");
    }
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::unexpected("missing ']' in route URL '" + std::string(text) + "'");
    url.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::unexpected("unexpected text after ']' in route URL '" + std::string(text) + "'");
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.find(':') != colon) {
      return std::unexpected("IPv6 address in route URL '" + std::string(text) + "' needs brackets: nats://[addr]:port");
    }
    url.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (url.host.empty()) return std::unexpected("no host in route URL '" + std::string(text) + "'");
  if (port_text.empty()) {
    url.port = default_port;
  } else {
    int port = 0;
    const auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port <= 0 || port > 65535) {
      return std::unexpected("invalid port '" + std::string(port_text) + "' in route URL '" + std::string(text) + "'");
    }
    url.port = port;
  }
  return url;
}

}  // namespace forest::broker

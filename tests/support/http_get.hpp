// Minimal HTTP GET for monitoring tests: returns the response body ("" on failure).
#pragma once

#include <string>

#include "raw_client.hpp"

namespace forest::testing {

// `host` is an IPv4 or IPv6 literal.
inline std::string http_get(const std::string& host, int port, const std::string& path) {
  RawClient http(host, port);
  if (!http.connected()) return "";
  const std::string host_header = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  http.send("GET " + path + " HTTP/1.0\r\nHost: " + host_header + "\r\n\r\n");
  const std::string response = http.read_until_closed(std::chrono::seconds(5));
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

inline std::string http_get(int port, const std::string& path) { return http_get("127.0.0.1", port, path); }

}  // namespace forest::testing

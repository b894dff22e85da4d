// Minimal HTTP GET for monitoring tests: returns the response body ("" on failure).
#pragma once

#include <string>

#include "raw_client.hpp"

namespace forest::testing {

inline std::string http_get(int port, const std::string& path) {
  RawClient http("127.0.0.1", port);
  if (!http.connected()) return "";
  http.send("GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string response = http.read_until_closed(std::chrono::seconds(5));
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

}  // namespace forest::testing

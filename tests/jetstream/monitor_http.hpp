// HTTP and INFO helpers of the JetStream monitoring tests (test_js_monitor.cpp, which drives
// server processes, and test_js_embedded.cpp, which runs a server in its own process).
#pragma once

#include <chrono>
#include <string>

#include "raw_client.hpp"

namespace forest::testing {

struct HttpAnswer {
  int status = 0;
  std::string content_type;
  std::string body;
};

inline HttpAnswer http(int port, const std::string& target) {
  HttpAnswer a;
  RawClient c("127.0.0.1", port);
  if (!c.connected()) return a;
  c.send("GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string r = c.read_until_closed(std::chrono::seconds(10));
  const auto end = r.find("\r\n\r\n");
  if (r.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return a;
  a.status = std::stoi(r.substr(9, 3));
  const std::string head = r.substr(0, end + 2);
  if (const auto ct = head.find("Content-Type: "); ct != std::string::npos) {
    a.content_type = head.substr(ct + 14, head.find("\r\n", ct) - ct - 14);
  }
  a.body = r.substr(end + 4);
  return a;
}

// The INFO line a client gets first.
inline std::string info_line(int port) {
  RawClient c("127.0.0.1", port);
  return c.connected() ? c.read_line(std::chrono::seconds(5)) : "";
}

}  // namespace forest::testing

// A blocking HTTP/1.0 GET for the CLI's `forest status` (the monitoring endpoint is plain
// HTTP on loopback by default); no TLS, no redirects.
#pragma once

#include <chrono>
#include <expected>
#include <string>

namespace forest::cli {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// `url`: "http://host:port" (the path is appended). Errors say what failed.
[[nodiscard]] std::expected<HttpResponse, std::string> http_get(const std::string& base_url, const std::string& path,
                                                                std::chrono::milliseconds timeout);

}  // namespace forest::cli

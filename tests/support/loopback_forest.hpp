// Helpers of the tests that play a forest of several nodes on one machine (forest-discovery,
// forest-app): each node listens on its own loopback address (127.0.0.2, 127.0.0.3, ...) with
// one common cluster port, as a forest's nodes share theirs.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http_get.hpp"
#include "server_process.hpp"

namespace forest::testing {

struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("forest-nodes-" + std::to_string(::getpid()) + "-" +
                                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// A port free on every one of the addresses (each address has its own port space); 0 if none.
inline int common_free_port(const std::vector<std::string>& addresses) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int candidate = free_port();
    bool ok = true;
    for (const auto& a : addresses) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(candidate));
      ::inet_pton(AF_INET, a.c_str(), &addr.sin_addr);
      ok = ok && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      ::close(fd);
    }
    if (ok) return candidate;
  }
  return 0;
}

// Polls every 100 ms until `pred` holds or the time is up.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

// The names of the servers a node has routes to (its /routez).
inline std::set<std::string> route_names(const std::string& host, int http_port) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  std::set<std::string> names;
  if (p.parse(http_get(host, http_port, "/routez")).get(e) != simdjson::SUCCESS) return names;
  simdjson::dom::array routes;
  if (e["routes"].get(routes) != simdjson::SUCCESS) return names;
  for (auto r : routes) {
    std::string_view name;
    if (r["remote_name"].get(name) == simdjson::SUCCESS) names.emplace(name);
  }
  return names;
}

}  // namespace forest::testing

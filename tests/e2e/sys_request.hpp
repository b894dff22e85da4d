// Helpers of the system account's end-to-end tests: a config file of their own, a server of
// either kind started with it, a logged-in raw client, and requests with their replies.
#pragma once

#include <catch2/catch.hpp>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "raw_client.hpp"
#include "server_process.hpp"

namespace forest::testing::sys {

using namespace std::chrono_literals;

struct SysConf {
  std::string path;
  explicit SysConf(const std::string& text)
      : path((std::filesystem::temp_directory_path() / ("forest-sys-" + std::to_string(::getpid()) + ".conf")).string()) {
    std::ofstream(path, std::ios::trunc) << text;
  }
  ~SysConf() { std::filesystem::remove(path); }
};

// `extra`: more flags (e.g. "-m", "-1" for the monitoring port, "-js").
inline std::unique_ptr<ServerProcess> start(const std::string& kind, const SysConf& conf,
                                            const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1", "-n", "sys-test-" + kind, "-c", conf.path};
  args.insert(args.end(), extra.begin(), extra.end());
  auto s = ServerProcess::start(kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(), args);
  REQUIRE(s);
  return s;
}

inline std::unique_ptr<RawClient> login(const ServerProcess& s, const std::string& user) {
  auto c = std::make_unique<RawClient>("127.0.0.1", s.client_port());
  REQUIRE(c->read_line(3s).rfind("INFO ", 0) == 0);
  c->send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"user\":\"" + user +
          "\",\"pass\":\"p\"}\r\nPING\r\n");
  REQUIRE(c->read_line(3s) == "PONG\r\n");
  return c;
}

// Sends a request with reply subject `inbox` (already subscribed as sid 1).
inline void send_request(RawClient& c, const std::string& subject, const std::string& inbox, const std::string& body = "") {
  c.send("PUB " + subject + " " + inbox + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
}

// The next message: its subject and payload ("" subject when none came).
inline std::pair<std::string, std::string> next_message(RawClient& c) {
  for (;;) {
    const std::string line = c.read_line(5s);
    if (line.empty()) return {};
    if (line == "PING\r\n") {
      c.send("PONG\r\n");
      continue;
    }
    if (line.rfind("MSG ", 0) == 0) {
      // MSG <subject> <sid> <size>
      const auto first = line.find(' ', 4);
      const auto last = line.rfind(' ');
      const std::size_t size = std::stoul(line.substr(last + 1));
      const std::string payload = c.read_exactly(size + 2, 5s);
      return {line.substr(4, first - 4), payload.substr(0, size)};
    }
    if (line.rfind("HMSG ", 0) == 0) {
      // HMSG <subject> <sid> <hdr size> <total size>: a status (no responders)
      const auto first = line.find(' ', 5);
      const std::size_t size = std::stoul(line.substr(line.rfind(' ') + 1));
      const std::string payload = c.read_exactly(size + 2, 5s);
      return {line.substr(5, first - 5), "HMSG " + payload.substr(0, size)};
    }
  }
}

}  // namespace forest::testing::sys

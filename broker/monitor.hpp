// Monitoring over HTTP (Boost.Beast): /varz, /connz, /subsz, /routez, /healthz with
// nats-server's JSON field names. Runs on the server's control thread; reads connection state
// only through ConnSnapshot copies.
#pragma once

#include <atomic>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "asio.hpp"

namespace forest::broker {

class Server;

class Monitor {
 public:
  Monitor(Server& server, asio::io_context& ctx);
  ~Monitor();

  // Returns the bound port.
  [[nodiscard]] std::expected<int, std::string> listen(const std::string& host, int port);
  void stop();

  // Builds the body for a path and query (also used by tests without HTTP).
  [[nodiscard]] std::string handle(const std::string& target, int& status);

 private:
  void do_accept();
  std::string varz();
  std::string connz(const std::map<std::string, std::string>& q, int& status);
  std::string subsz(const std::map<std::string, std::string>& q);
  std::string routez();
  std::string root();

  Server& server_;
  asio::io_context& ctx_;
  tcp::acceptor acceptor_;
  std::mutex stats_mu_;
  std::map<std::string, uint64_t> req_stats_;
  // CPU% between /varz calls, as nats-server reports it.
  double last_cpu_seconds_ = 0;
  std::chrono::steady_clock::time_point last_cpu_sample_{};
};

}  // namespace forest::broker

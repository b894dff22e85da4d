// Starts a NATS server binary (ours or the reference nats-server) as a child process on
// ephemeral ports ("-p -1", "-m -1"), learns the ports from its log, and stops it (SIGTERM,
// then SIGKILL), bounded in time. Used by protocol, client and cluster tests and the bench.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace forest::testing {

class ServerProcess {
 public:
  // Starts `binary` with `args` and waits (up to `timeout`) until it logs its client port
  // (and its monitoring port when `-m`/`--http_port` is among the args).
  // With `log_file`, the ports are read from that file instead (for servers run with -l).
  static std::unique_ptr<ServerProcess> start(const std::string& binary, const std::vector<std::string>& args,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                              const std::string& log_file = "");
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  [[nodiscard]] int client_port() const { return client_port_; }
  [[nodiscard]] int http_port() const { return http_port_; }
  // The route port, from "Listening for route connections on host:port" (both servers log it
  // after the client port, so it is waited for here, up to `timeout`); 0 when never logged.
  int route_port(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string log() const;
  [[nodiscard]] bool running();
  // Waits until the log contains `text`.
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout);

  void send_signal(int sig) const;
  // SIGTERM, then SIGKILL after `grace`; returns the exit status (or -1 when killed).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  // Paths of the two servers under test, from the environment set by meson.
  static std::string forest_binary();
  static std::string nats_binary();

 private:
  ServerProcess() = default;
  void read_output();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int client_port_ = 0;
  int http_port_ = 0;
  int route_port_ = 0;
  bool exited_ = false;
  int exit_status_ = 0;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
};

// Picks a free TCP port on 127.0.0.1 (bound and released: only for restarts on a known port).
int free_port();

// FOREST_SKIP_ORACLE=1 (.ci/run sets it for its sanitizer passes only): the cases, and the
// generated branches of cases, that start nats-server alone are left out, since no process
// of ours runs in them. Whatever starts a forest-server still runs, with all its checks. The
// first call says so on stderr when it is set.
[[nodiscard]] bool skip_oracle_only();

// The servers a case that runs on both is generated for: {"forest", "nats"}, or {"forest"}
// under FOREST_SKIP_ORACLE=1. Use: GENERATE(from_range(server_kinds())).
[[nodiscard]] std::vector<std::string> server_kinds();

}  // namespace forest::testing

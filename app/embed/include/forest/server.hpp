// The embeddable forest server: a drop-in nats-server (the broker) with JetStream, in the
// app's process. start() returns once clients can connect and JetStream answers; connect()
// gives an in-process client connection (connection.hpp); shutdown() drains and returns when
// every thread has stopped.
//
// Standard library only in this header: no Asio or broker types.
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "forest/connection.hpp"

namespace forest {

enum class LogLevel { trace, debug, info, warn, error, fatal };

struct Config {
  std::string node_name;     // the server name (with discovery: the node id unless set)
  std::string cluster_name;  // with discovery: the forest id unless set
  std::string data_dir;      // JetStream's store; empty: JetStream off
  std::vector<std::string> peers;  // route URLs ("nats-route://host:6222" or "host:6222")
  std::string host = "0.0.0.0";  // the listen address of the client, cluster and monitoring ports
  // 0: an ephemeral port; negative: disabled.
  int client_port = 4222;
  int cluster_port = -1;  // with discovery (node_info) 6222 unless set
  int monitor_port = 8222;
  // The forest's discovery files (discovery/): no node-info means standalone. On when either
  // path is set or `discovery` is true (then unset paths come from the Go app's environment
  // variables NATS_CLUSTER_NODE_INFO / NATS_CLUSTER_REGISTRY, else their defaults).
  bool discovery = false;
  std::string node_info_path;
  std::string registry_path;
  std::chrono::milliseconds registry_interval{5000};  // how often the registry is re-read
  // A nats-server configuration file applied first (everything else it can say), optional.
  std::string config_file;
  // Where log lines go (without the pid and time prefix); null: stderr in nats-server's format.
  std::function<void(LogLevel, std::string_view)> log_sink;
  bool debug = false, trace = false;
  // Lame-duck mode (enter_lame_duck_mode(), SIGUSR2 in `forest run`): how long closing the
  // clients is spread over, and the wait before the first goes. Zero: the config file's, else
  // nats-server's defaults (2 m, 10 s). Unlike a config file's, a duration under nats-server's
  // 30 s minimum is taken as given (an app's own quick handover, tests).
  std::chrono::milliseconds lame_duck_duration{0};
  std::chrono::milliseconds lame_duck_grace_period{0};
};

class Server {
 public:
  explicit Server(Config config);
  ~Server();  // shuts down if running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  [[nodiscard]] std::expected<void, Error> start();
  void shutdown();
  // Blocks until shutdown (also one that lame-duck mode ends in).
  void wait();
  [[nodiscard]] bool running() const;

  [[nodiscard]] std::expected<std::unique_ptr<Connection>, Error> connect(ConnectOptions opts = {});

  // Re-reads config_file and applies what can change; one line per change.
  std::expected<std::vector<std::string>, Error> reload();
  void enter_lame_duck_mode();

  [[nodiscard]] int client_port() const;   // the bound port once started, -1 when disabled
  [[nodiscard]] int monitor_port() const;  // likewise
  [[nodiscard]] int cluster_port() const;  // likewise
  // For external clients: "nats://127.0.0.1:<port>" (the host when not listening on all).
  [[nodiscard]] std::string client_url() const;
  [[nodiscard]] std::string server_id() const;
  [[nodiscard]] std::string server_name() const;
  [[nodiscard]] const Config& config() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace forest

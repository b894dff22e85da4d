// The server: listeners, I/O threads, accounts, the client registry, authorization and the
// monitoring endpoint. Embeddable: start() spawns every thread it needs (a control thread for
// accepting and timers; N I/O threads for connections; the monitor's own HTTP thread); it
// installs no signal handlers (forest-server's main does that).
//
// Lock order: Server::mu_ before a connection's info/subs locks, which come before its
// outbound lock. No lock is held while calling into another connection's deliver().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "account.hpp"
#include "imports.hpp"
#include "asio.hpp"
#include "client_endpoint.hpp"
#include "conn_info.hpp"
#include "internal_service.hpp"
#include "io_thread.hpp"
#include "logger.hpp"
#include "options.hpp"
#include "socket_closer.hpp"

namespace forest::broker {

class ClientConn;
struct TlsContext;
struct CertIdentity;
class Cluster;
class JetStreamMonitor;
class Monitor;
class SystemService;

// The nats-server protocol level we match; clients switch features on by this version.
inline constexpr const char* kNatsCompatVersion = "2.9.10";
inline constexpr const char* kForestVersion = "0.1.0";

struct AuthResult {
  Account* account = nullptr;
  std::string user;  // the authorized user name, if any
  std::shared_ptr<const PermissionRules> permissions;  // null: everything allowed
};

struct Credentials {
  std::string_view user{}, pass{}, token{};
  std::string_view nkey{}, sig{};  // an nkey user's public key and its signature of `nonce`
  std::string_view nonce{};        // what this connection's INFO carried
  const CertIdentity* cert = nullptr;  // the client's TLS certificate, for verify_and_map
  std::string_view connection_type = "STANDARD";  // for users' allowed_connection_types
};

// Credentials that outlive the CONNECT they came from (the auth pool, reloads).
struct OwnedCredentials {
  std::string user, pass, token, nkey, sig, nonce;
  std::shared_ptr<const CertIdentity> cert;
  std::string connection_type = "STANDARD";
  [[nodiscard]] Credentials view() const {
    return Credentials{user, pass, token, nkey, sig, nonce, cert.get(), connection_type};
  }
};

struct ServerCounters {
  std::atomic<uint64_t> in_msgs{0}, in_bytes{0};
  std::atomic<uint64_t> out_msgs{0}, out_bytes{0};  // from publishers not on an I/O thread
  std::atomic<uint64_t> slow_consumers{0};
  std::atomic<uint64_t> total_connections{0};
};

class Server {
 public:
  using OptionsLoader = std::function<std::expected<Options, std::string>()>;

  Server(Options opts, std::shared_ptr<Logger> log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners and starts the threads. Errors say what could not be done.
  [[nodiscard]] std::expected<void, std::string> start();
  // Graceful shutdown: stops accepting, tells and closes clients (flushing what they were
  // owed), stops the threads. Idempotent; callable from any thread but the server's own.
  void shutdown();
  // Blocks until shutdown() completed.
  void wait();
  [[nodiscard]] bool running() const { return running_.load(); }

  // Adds a service to start with the server (before start(); see internal_service.hpp).
  void add_service(std::unique_ptr<InternalService> service) { services_.push_back(std::move(service)); }
  // The JetStream service's side of /jsz and /healthz (set by the service when it is built,
  // before start(); null without JetStream). See jetstream_monitor.hpp.
  void set_jetstream_monitor(JetStreamMonitor* js) { jetstream_monitor_ = js; }
  [[nodiscard]] JetStreamMonitor* jetstream_monitor() const { return jetstream_monitor_; }

  // Where reload() gets fresh options from (the config file plus the original flags).
  void set_options_loader(OptionsLoader loader) { loader_ = std::move(loader); }
  // Applies what can change at run time; returns one line per change, or why it refused.
  std::expected<std::vector<std::string>, std::string> reload();
  // Lame-duck mode: stop accepting, then close clients gradually, then shut down.
  void enter_lame_duck_mode();
  // Re-opens the log file (log rotation).
  void reopen_log();

  [[nodiscard]] int client_port() const { return client_port_.load(); }
  [[nodiscard]] int http_port() const { return http_port_.load(); }
  [[nodiscard]] int https_port() const { return https_port_.load(); }
  [[nodiscard]] std::shared_ptr<const Options> options() const { return opts_.load(); }
  [[nodiscard]] const std::string& server_id() const { return server_id_; }
  [[nodiscard]] std::string server_name() const;
  [[nodiscard]] Logger& log() { return *log_; }
  [[nodiscard]] Account& global_account() { return *accounts_.front(); }
  [[nodiscard]] Account* find_account(std::string_view name);
  // The same, remembering the last answer per thread (routes look an account up per message).
  [[nodiscard]] Account* find_account_cached(std::string_view name);
  // Connection ids for every kind (clients and routes share them, as in nats-server).
  [[nodiscard]] uint64_t next_cid() { return next_cid_.fetch_add(1) + 1; }
  // The cluster, when routing is on (a cluster port is set); null otherwise.
  [[nodiscard]] Cluster* cluster() { return cluster_.get(); }
  // URLs clients may use to reach this server ("host:port"; every address when listening on all).
  [[nodiscard]] std::vector<std::string> own_client_urls() const;
  // The cluster's client URLs changed: a fresh INFO for clients that take async INFO.
  void cluster_urls_changed();
  // bcrypt hashes ("$2a$...") or plain text, compared in constant time.
  [[nodiscard]] static bool password_matches(const std::string& configured, std::string_view given);
  [[nodiscard]] std::vector<Account*> accounts();
  // The accounts' exports and imports as applied: the configured ones and the system
  // imports (broker/system_imports.hpp). Any thread.
  [[nodiscard]] std::vector<AccountConfig> applied_imports() const { return imports_->applied(); }
  [[nodiscard]] ServerCounters& counters() { return counters_; }
  [[nodiscard]] SystemTime start_time() const { return start_time_; }
  [[nodiscard]] bool lame_duck() const { return lame_duck_.load(); }
  [[nodiscard]] std::vector<IoThread*> io_threads();
  // The thread of internal services (JetStream, in-process clients): an IoThread that serves
  // no sockets. Exists from start() to shutdown().
  [[nodiscard]] IoThread& service_thread() { return *service_thread_; }
  // Where connections hand their sockets to be closed off their I/O thread.
  [[nodiscard]] SocketCloser& socket_closer() { return closer_; }

  // Authorization for a CONNECT (or the no_auth_user when the client sent no credentials).
  [[nodiscard]] std::optional<AuthResult> authenticate(const Credentials& c) const { return authenticate(c, *options()); }
  // The same against given options (a snapshot the caller already holds).
  [[nodiscard]] std::optional<AuthResult> authenticate(const Credentials& c, const Options& o) const;
  // Whether checking credentials is slow (bcrypt hashes configured): then connections hand the
  // check to authenticate_async() instead of blocking their I/O thread.
  [[nodiscard]] bool slow_authentication() const { return slow_auth_.load(std::memory_order_relaxed); }
  // Runs authenticate() on the auth pool and calls `done` there with the result.
  void authenticate_async(OwnedCredentials credentials, std::function<void(std::optional<AuthResult>)> done);
  // Whether clients get a nonce in INFO to sign (nkey users configured).
  [[nodiscard]] bool nonce_required() const;
  // The INFO line for a client (ends in " \r\n", as nats-server's does); with "ldm":true once
  // lame-duck mode began.
  // max_payload < 0: the server's.
  [[nodiscard]] std::string info_line(uint64_t cid, std::string_view client_ip, std::string_view nonce = {},
                                      int64_t max_payload = -1) const;
  // The client port's TLS context (null: plain); rebuilt by a reload, so a connection takes
  // it once, when it starts.
  [[nodiscard]] std::shared_ptr<TlsContext> client_tls() const { return client_tls_.load(); }

  // Registry of connected clients of every kind (for monitoring, limits and shutdown).
  // register_client() is for kinds the server does not accept itself (in-process ones); it
  // refuses while shutting down. Every registered client reports client_closed() once.
  [[nodiscard]] bool register_client(std::shared_ptr<ClientEndpoint> conn);
  void client_closed(const ClientEndpoint& conn, ConnSnapshot final_state);
  // A client finished its CONNECT (authenticated, in its account): the system account's
  // connect event. From the client's thread.
  void client_connected(const ClientEndpoint& conn);
  [[nodiscard]] std::size_t num_clients() const;
  // The server's traffic counters plus what live connections count themselves
  // (ClientEndpoint::add_own_traffic); I/O threads' out counts are the caller's to add.
  [[nodiscard]] TrafficCounts traffic() const;
  [[nodiscard]] std::vector<std::shared_ptr<ClientEndpoint>> clients() const;
  // The live clients, with `also()` run under the same lock: a client's closing moves its
  // traffic into its account under that lock too (client_closed), so what also() reads of the
  // accounts and the list agree, and each client is counted once (account_statz.cpp).
  [[nodiscard]] std::vector<std::shared_ptr<ClientEndpoint>> clients_and(const std::function<void()>& also) const;
  [[nodiscard]] std::vector<ConnSnapshot> closed_clients() const;

 private:
  [[nodiscard]] std::expected<void, std::string> open_client_listener();
  void do_accept();
  void on_accepted(IoThread& io, tcp::socket socket);
  void rebuild_info();
  void write_ports_file();
  void close_all_clients(CloseReason reason);
  void lame_duck_step(std::chrono::steady_clock::time_point deadline);
  Account& register_account(const std::string& name);
  void update_slow_auth();
  void schedule_memory_trim();
  void enforce_max_connections(int64_t max);
  [[nodiscard]] static bool no_auth_user_removed_with_user(const Options& old, const Options& next);
  [[nodiscard]] static bool same_permissions(const User& a, const User& b);

  std::atomic<std::shared_ptr<const Options>> opts_;
  std::atomic<std::shared_ptr<TlsContext>> client_tls_;
  std::shared_ptr<Logger> log_;
  OptionsLoader loader_;
  std::string server_id_;
  SystemTime start_time_;

  asio::io_context control_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> control_work_;
  std::thread control_thread_;
  std::vector<std::unique_ptr<IoThread>> io_threads_;
  std::unique_ptr<IoThread> service_thread_;
  std::atomic<uint32_t> next_io_{0};
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<Cluster> cluster_;
  JetStreamMonitor* jetstream_monitor_ = nullptr;  // one of services_ (declared before: outlives them), or null
  std::vector<std::unique_ptr<InternalService>> services_;
  std::size_t services_started_ = 0;  // how many of services_ to stop
  asio::steady_timer accept_retry_{control_};
  std::chrono::milliseconds accept_delay_{10};  // control thread
  asio::steady_timer lame_duck_timer_{control_};
  asio::steady_timer trim_timer_{control_};

  std::atomic<int> client_port_{0};
  std::atomic<int> http_port_{0};
  std::atomic<int> https_port_{0};
  std::atomic<bool> running_{false};
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> lame_duck_{false};
  std::atomic<bool> slow_auth_{false};
  SocketCloser closer_;
  asio::thread_pool auth_pool_{2};  // bcrypt checks, off the I/O threads
  std::atomic<uint64_t> next_cid_{0};
  ServerCounters counters_;

  mutable std::mutex mu_;  // guards what follows
  std::condition_variable stopped_cv_;
  bool stopped_ = false;
  std::vector<std::unique_ptr<Account>> accounts_;
  std::map<uint64_t, std::shared_ptr<ClientEndpoint>> clients_;
  std::deque<ConnSnapshot> closed_;
  std::string info_json_prefix_;         // INFO fields before max_payload
  std::string info_json_after_payload_;  // INFO fields after it, up to (not including) client_id
  int64_t info_max_payload_ = 0;
  std::string ports_file_;
  // Account imports (broker/imports.hpp); after accounts_, which it points into.
  std::unique_ptr<Imports> imports_;
  // What imports_ applies for `o`: its accounts and the system imports.
  [[nodiscard]] std::vector<AccountConfig> import_configs(const Options& o);
  SystemService* system_ = nullptr;  // in services_, when there is a system account
};

}  // namespace forest::broker

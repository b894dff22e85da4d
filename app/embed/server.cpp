#include "forest/server.hpp"

#include <atomic>

#include "connection_impl.hpp"
#include "app/forest_discovery.hpp"
#include "cluster.hpp"
#include "jetstream/service.hpp"
#include "logger.hpp"
#include "options.hpp"
#include "server.hpp"

namespace forest {

namespace {

Error error_of(std::string text) { return Error{std::move(text), 0, 0}; }

LogLevel level_of(std::string_view label) {
  if (label.starts_with("[TRC")) return LogLevel::trace;
  if (label.starts_with("[DBG")) return LogLevel::debug;
  if (label.starts_with("[WRN")) return LogLevel::warn;
  if (label.starts_with("[ERR")) return LogLevel::error;
  if (label.starts_with("[FTL")) return LogLevel::fatal;
  return LogLevel::info;
}

// Config's port convention (0 ephemeral, negative disabled) in the broker's (kRandomPort for
// ephemeral, 0 for off where off exists).
int broker_port(int port) { return port == 0 ? broker::kRandomPort : port; }

// Dispatch threads get indexes past any I/O thread's (indexes only name threads).
std::atomic<uint32_t> g_next_dispatch_index{1u << 20};

}  // namespace

struct Server::Impl {
  Config config;
  std::shared_ptr<broker::Logger> log = std::make_shared<broker::Logger>();
  // Shared: wait() on another thread keeps it while shutdown() lets go of it.
  std::shared_ptr<broker::Server> server;
  app::DiscoveryPlan discovery;
  std::unique_ptr<discovery::RegistryWatcher> watcher;
  mutable std::mutex mu;  // start/shutdown, and `server` itself

  // The running server (null before start() and after shutdown()), safe against a concurrent
  // shutdown(): the caller holds its own reference.
  [[nodiscard]] std::shared_ptr<broker::Server> current() const {
    std::lock_guard lock(mu);
    return server && server->running() ? server : nullptr;
  }

  std::expected<broker::Options, std::string> options() const;
};

std::expected<broker::Options, std::string> Server::Impl::options() const {
  broker::Options o;
  if (!config.config_file.empty()) {
    if (auto r = broker::apply_config_file(o, config.config_file); !r) return std::unexpected(r.error());
    o.config_file = config.config_file;
  }
  if (!config.node_name.empty()) o.server_name = config.node_name;
  if (!config.cluster_name.empty()) o.cluster.name = config.cluster_name;
  o.host = config.host;
  o.cluster.host = config.host;  // one listen address for every port
  if (config.client_port < 0) {
    o.dont_listen = true;
  } else {
    o.port = broker_port(config.client_port);
  }
  o.http_port = config.monitor_port < 0 ? 0 : broker_port(config.monitor_port);
  if (config.cluster_port >= 0) {
    o.cluster.configured = true;
    o.cluster.port = broker_port(config.cluster_port);
  }
  for (const std::string& peer : config.peers) o.cluster.routes.push_back(peer);
  if (!o.cluster.routes.empty() && o.cluster.port == 0) {
    return std::unexpected(std::string("peers need a cluster port (cluster_port >= 0)"));
  }
  if (!config.data_dir.empty()) {
    o.jetstream.enabled = true;
    o.jetstream.store_dir = config.data_dir;
  }
  o.node_info = config.node_info_path;
  o.registry = config.registry_path;
  o.registry_interval = config.registry_interval;
  o.debug = o.debug || config.debug;
  o.trace = o.trace || config.trace;
  if (config.lame_duck_duration.count() > 0) o.lame_duck_duration = config.lame_duck_duration;
  if (config.lame_duck_grace_period.count() > 0) o.lame_duck_grace_period = config.lame_duck_grace_period;
  return o;
}

Server::Server(Config config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  if (impl_->config.log_sink) {
    impl_->log->set_sink([sink = impl_->config.log_sink](std::string_view label, std::string_view text) {
      sink(level_of(label), text);
    });
  }
}

Server::~Server() { shutdown(); }

std::expected<void, Error> Server::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->server) return std::unexpected(error_of("already started"));
  auto opts = impl_->options();
  if (!opts) return std::unexpected(error_of(opts.error()));
  if (opts->discovery() || impl_->config.discovery) {
    auto plan = app::plan_discovery(*opts);
    if (!plan) return std::unexpected(error_of(plan.error()));
    impl_->discovery = std::move(*plan);
  }
  if (!opts->log_file.empty() && !impl_->config.log_sink) {
    std::string err;
    if (!impl_->log->open(opts->log_file, &err)) return std::unexpected(error_of(err));
  }
  const broker::Options started_with = *opts;
  auto server = std::make_shared<broker::Server>(std::move(*opts), impl_->log);
  // A reload re-reads the config file; what Config and discovery decided stays.
  const bool discovered = started_with.discovery() || impl_->config.discovery;
  server->set_options_loader([impl = impl_.get(), started_with, discovered]() -> std::expected<broker::Options, std::string> {
    auto next = impl->options();
    if (next && discovered) {
      next->cluster = started_with.cluster;
      next->server_name = started_with.server_name;
    }
    return next;
  });
  if (server->options()->jetstream.enabled) {
    server->add_service(std::make_unique<broker::js::JetStreamService>(*server));
  }
  for (const std::string& line : impl_->discovery.log_lines) impl_->log->info("{}", line);
  if (auto r = server->start(); !r) {
    server->shutdown();
    return std::unexpected(error_of(r.error()));
  }
  auto watcher = app::follow_registry(*server, impl_->discovery);
  if (!watcher) {
    server->shutdown();
    return std::unexpected(error_of(watcher.error()));
  }
  impl_->watcher = std::move(*watcher);
  impl_->server = std::move(server);
  return {};
}

void Server::shutdown() {
  std::lock_guard lock(impl_->mu);
  if (!impl_->server) return;
  if (impl_->watcher) impl_->watcher->stop();  // no more dials while the cluster goes away
  impl_->server->shutdown();
  impl_->server->wait();
  impl_->watcher.reset();
  impl_->server.reset();
}

void Server::wait() {
  std::shared_ptr<broker::Server> s;
  {
    std::lock_guard lock(impl_->mu);
    s = impl_->server;
  }
  if (s != nullptr) s->wait();
}

bool Server::running() const { return impl_->current() != nullptr; }

std::expected<std::unique_ptr<Connection>, Error> Server::connect(ConnectOptions opts) {
  const auto server = impl_->current();
  if (!server) return std::unexpected(error_of("the server is not running"));
  auto impl = std::make_unique<Connection::Impl>();
  impl->dispatch = std::make_unique<broker::IoThread>(g_next_dispatch_index.fetch_add(1));
  // What handlers publish is counted in /varz like any publisher's.
  impl->dispatch->forward_counts_to(&server->counters().out_msgs, &server->counters().out_bytes);
  impl->dispatch->start();
  broker::InProcessOptions io;
  io.name = opts.name;
  io.echo = opts.echo;
  io.user = opts.user;
  io.pass = opts.pass;
  io.token = opts.token;
  io.max_pending_msgs = opts.max_pending_msgs;
  io.max_pending_bytes = opts.max_pending_bytes;
  io.version = broker::kForestVersion;
  auto on_event = std::move(opts.on_event);
  auto events = [mux = impl->mux, on_event](broker::InProcessEvent kind, std::string_view text) {
    if (kind == broker::InProcessEvent::closed) {
      std::lock_guard lock(mux->mu);
      mux->closed = true;  // requests in flight give up
      mux->cv.notify_all();
    }
    if (!on_event) return;
    switch (kind) {
      case broker::InProcessEvent::closed: on_event(ConnectionEvent::closed, text); break;
      case broker::InProcessEvent::lame_duck: on_event(ConnectionEvent::lame_duck, text); break;
      case broker::InProcessEvent::slow_consumer: on_event(ConnectionEvent::slow_consumer, text); break;
      case broker::InProcessEvent::error: on_event(ConnectionEvent::error, text); break;
    }
  };
  auto conn = broker::InProcessConn::connect(*server, *impl->dispatch, std::move(io), std::move(events));
  if (!conn) {
    impl->dispatch->stop();
    impl->dispatch->join();
    return std::unexpected(error_of(conn.error()));
  }
  impl->conn = std::move(*conn);
  impl->shared = std::make_shared<Subscription::Shared>();
  impl->shared->conn = impl->conn;
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

std::expected<std::vector<std::string>, Error> Server::reload() {
  const auto server = impl_->current();
  if (!server) return std::unexpected(error_of("the server is not running"));
  auto r = server->reload();
  if (!r) return std::unexpected(error_of(r.error()));
  return *r;
}

void Server::enter_lame_duck_mode() {
  if (const auto server = impl_->current()) server->enter_lame_duck_mode();
}

int Server::client_port() const {
  const auto server = impl_->current();
  if (!server || server->options()->dont_listen) return -1;
  return server->client_port();
}

int Server::monitor_port() const {
  const auto server = impl_->current();
  if (!server || server->http_port() == 0) return -1;
  return server->http_port();
}

int Server::cluster_port() const {
  const auto server = impl_->current();
  if (!server || server->cluster() == nullptr) return -1;
  return server->cluster()->port();
}

std::string Server::client_url() const {
  const int port = client_port();
  if (port < 0) return {};
  const std::string& host = impl_->config.host;
  const bool everywhere = host.empty() || host == "0.0.0.0" || host == "::";
  return "nats://" + (everywhere ? std::string("127.0.0.1") : host) + ":" + std::to_string(port);
}

std::string Server::server_id() const {
  const auto server = impl_->current();
  return server ? server->server_id() : std::string();
}
std::string Server::server_name() const {
  const auto server = impl_->current();
  return server ? server->server_name() : std::string();
}
const Config& Server::config() const { return impl_->config; }

}  // namespace forest

#include "server.hpp"

#include <crypt.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <fstream>

#include "client_conn.hpp"
#include "cluster.hpp"
#include "net_interfaces.hpp"
#include "route_url.hpp"
#include "json_writer.hpp"
#include "listener.hpp"
#include "memory_trim.hpp"
#include "nkeys.hpp"
#include "monitor.hpp"
#include "protocol/errors.hpp"
#include "server_id.hpp"
#include "cert_identity.hpp"
#include "system_imports.hpp"
#include "system_service.hpp"
#include "tls.hpp"

namespace forest::broker {
namespace {

constexpr std::size_t kMaxClosedClients = 10000;
constexpr auto kAcceptRetryMin = std::chrono::milliseconds(10);
constexpr auto kAcceptRetryMax = std::chrono::milliseconds(1000);
constexpr auto kShutdownFlushWait = std::chrono::seconds(2);

// bcrypt hashes ("$2a$...") are compared with libxcrypt; anything else is a plain password.
// crypt_rn, not crypt_r: GCC 12's AddressSanitizer intercepts crypt_r and crashes with
// libxcrypt, and crypt_rn reports failure as nullptr instead of a magic string.
bool matches_password(const std::string& configured, std::string_view given) {
  if (configured.rfind("$2", 0) == 0) {
    auto data = std::make_unique<crypt_data>();
    const std::string g(given);
    const char* h = ::crypt_rn(g.c_str(), configured.c_str(), data.get(), sizeof(crypt_data));
    return h != nullptr && configured == h;
  }
  // Constant-time compare, so timing does not reveal a prefix.
  if (configured.size() != given.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(configured[i] ^ given[i]);
  return diff == 0;
}

std::string host_for_info(const Options& o) { return o.host; }

bool listens_everywhere(const std::string& host) { return host.empty() || host == "0.0.0.0" || host == "::"; }

}  // namespace

Server::Server(Options opts, std::shared_ptr<Logger> log)
    : log_(std::move(log)), server_id_(make_server_id()), start_time_(std::chrono::system_clock::now()) {
  opts_.store(std::make_shared<const Options>(std::move(opts)));
  accounts_.push_back(std::make_unique<Account>(kGlobalAccount, 0));
  for (const AccountConfig& a : options()->accounts) register_account(a.name).set_limits(a.limits);
  for (const User& u : options()->users) {
    if (!u.account.empty()) register_account(u.account);
  }
  if (const std::string sys = options()->effective_system_account(); !sys.empty()) {
    // First among the services: it answers from the moment the server does.
    auto system = std::make_unique<SystemService>(*this, register_account(sys));
    system_ = system.get();
    services_.insert(services_.begin(), std::move(system));
  }
  // After every account exists (a reload may not add one).
  imports_ = std::make_unique<Imports>([this](std::string_view name) { return find_account(name); }, accounts(),
                                       LatencyServer{server_name(), options()->cluster.name});
  imports_->apply(import_configs(*options()));
  update_slow_auth();
}

std::vector<AccountConfig> Server::import_configs(const Options& o) {
  std::vector<std::string> names;
  for (Account* a : accounts()) names.push_back(a->name());
  return with_system_imports(o.accounts, o.effective_system_account(), names);
}

void Server::update_slow_auth() {
  const auto o = options();
  auto is_hash = [](const std::string& s) { return s.rfind("$2", 0) == 0; };
  bool slow = is_hash(o->password) || is_hash(o->token);
  for (const User& u : o->users) slow = slow || is_hash(u.password);
  slow_auth_.store(slow, std::memory_order_relaxed);
}

void Server::authenticate_async(OwnedCredentials credentials, std::function<void(std::optional<AuthResult>)> done) {
  asio::post(auth_pool_, [this, credentials = std::move(credentials), done = std::move(done)] {
    done(authenticate(credentials.view()));
  });
}

bool Server::nonce_required() const {
  const auto o = options();
  return std::any_of(o->users.begin(), o->users.end(), [](const User& u) { return !u.nkey.empty(); });
}

Server::~Server() {
  shutdown();
  wait();
}

Account& Server::register_account(const std::string& name) {
  for (auto& a : accounts_) {
    if (a->name() == name) return *a;
  }
  accounts_.push_back(std::make_unique<Account>(name, static_cast<uint32_t>(accounts_.size())));
  return *accounts_.back();
}

Account* Server::find_account(std::string_view name) {
  std::lock_guard lock(mu_);
  for (auto& a : accounts_) {
    if (a->name() == name) return a.get();
  }
  return nullptr;
}

std::vector<Account*> Server::accounts() {
  std::lock_guard lock(mu_);
  std::vector<Account*> out;
  for (auto& a : accounts_) out.push_back(a.get());
  return out;
}

std::vector<IoThread*> Server::io_threads() {
  std::vector<IoThread*> out;
  for (auto& t : io_threads_) out.push_back(t.get());
  return out;
}

std::string Server::server_name() const {
  const auto o = options();
  return o->server_name.empty() ? server_id_ : o->server_name;
}

namespace {

// The https monitor port: the client port's certificate, but no client certificate asked for
// and no pins (as nats-server's getMonitoringTLSConfig).
TlsOptions https_tls_options(TlsOptions t) {
  t.verify = t.map = false;
  t.pinned_certs.clear();
  return t;
}

}  // namespace

std::expected<void, std::string> Server::open_client_listener() {
  const auto o = options();
  acceptor_ = std::make_unique<tcp::acceptor>(control_);
  auto r = open_listener(*acceptor_, o->host, o->port == kRandomPort ? 0 : o->port);
  if (!r) return std::unexpected("Error listening on port: " + o->host + ":" + std::to_string(o->port) + ", \"" + r.error() + "\"");
  client_port_.store(*r);
  return {};
}

std::expected<void, std::string> Server::start() {
  const auto o = options();
  log_->set_levels(o->debug, o->trace, o->logtime);
  log_->info("Starting nats-server compatible forest-server");
  log_->info("  Version:  {} (nats-server {} protocol level)", kForestVersion, kNatsCompatVersion);
  log_->info("  Git:      [not set]");
  log_->info("  Name:     {}", server_name());
  log_->info("  ID:       {}", server_id_);
  if (!o->config_file.empty()) log_->info("Using configuration file: {}", o->config_file);
  // build_options() validated the command line's options already; an embedder's need it too.
  if (auto r = validate_options(*o); !r) return r;

  if (o->tls.enabled) {
    auto ctx = make_tls_server_context(o->tls);
    if (!ctx) return std::unexpected(ctx.error());
    client_tls_.store(std::move(*ctx));
  }

  // DontListen (nats-server's embedding option): in-process clients only.
  if (!o->dont_listen) {
    if (auto r = open_client_listener(); !r) return r;
  }

  unsigned n = o->io_threads > 0 ? static_cast<unsigned>(o->io_threads) : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) io_threads_.push_back(std::make_unique<IoThread>(i));
  service_thread_ = std::make_unique<IoThread>(n);

  // Routing is on when a cluster port is set (as in nats-server). The Cluster exists before
  // the monitor listens: /routez and /varz read cluster_ from the monitor's thread.
  if (o->cluster.port != 0) cluster_ = std::make_unique<Cluster>(*this, control_);

  if (o->http_port != 0 && o->https_port != 0) {
    return std::unexpected("can't specify both HTTP (" + std::to_string(o->http_port) + ") and HTTPs (" +
                           std::to_string(o->https_port) + ") ports");
  }
  if (o->http_port != 0 || o->https_port != 0) {
    // https: the client port's certificate, but no client certificate asked for (as nats-server).
    std::shared_ptr<TlsContext> https;
    if (o->https_port != 0) {
      if (!o->tls.enabled) return std::unexpected(std::string("TLS cert and key required for HTTPS"));
      auto ctx = make_tls_server_context(https_tls_options(o->tls));
      if (!ctx) return std::unexpected(ctx.error());
      https = std::move(*ctx);
    }
    monitor_ = std::make_unique<Monitor>(*this);
    const std::string http_host = o->http_host.empty() ? o->host : o->http_host;
    const int port = https ? o->https_port : o->http_port;
    auto r = monitor_->listen(http_host, port == kRandomPort ? 0 : port, https);
    if (!r) return std::unexpected(r.error());
    (https ? https_port_ : http_port_).store(*r);
    log_->info("Starting {} monitor on {}:{}", https ? "https" : "http", http_host, *r);
  }

  if (!o->pid_file.empty()) {
    std::ofstream pf(o->pid_file, std::ios::trunc);
    if (!pf) return std::unexpected("could not write pid file '" + o->pid_file + "': " + std::strerror(errno));
    pf << ::getpid();
  }

  rebuild_info();
  for (auto& t : io_threads_) t->start();
  service_thread_->start();
  control_work_.emplace(asio::make_work_guard(control_));
  running_.store(true);
  // Services (JetStream) come up before the first client is accepted, so no client sees the
  // server without them; a failure is a startup error.
  for (auto& service : services_) {
    if (auto r = service->start(); !r) return r;
    ++services_started_;
  }
  do_accept();
  schedule_memory_trim();
  control_thread_ = std::thread([this] { control_.run(); });

  if (!o->dont_listen) log_->info("Listening for client connections on {}:{}", o->host, client_port_.load());
  if (o->auth_required()) log_->info("Authorization required for clients");
  if (client_tls_.load()) log_->info("TLS required for client connections");
  if (cluster_) {
    // The route port is open even without a peer, so the first node of a cluster can be joined.
    if (auto r = cluster_->start(); !r) return std::unexpected(r.error());
  } else if (o->cluster.configured) {
    log_->warn("cluster {{}} has no port (or listen): routing is off, as in nats-server");
  }
  write_ports_file();
  log_->info("Server is ready");
  return {};
}

void Server::schedule_memory_trim() {
  // Free memory above this stays with the process for at most one interval.
  constexpr std::size_t kKeepFree = 32u << 20;
  constexpr auto kInterval = std::chrono::milliseconds(500);
  trim_timer_.expires_after(kInterval);
  trim_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    trim_free_memory(kKeepFree);
    // The same tick expires service replies past their threshold (their latency reports, 504).
    if (imports_) imports_->expire_responses();
    schedule_memory_trim();
  });
}

void Server::write_ports_file() {
  const auto o = options();
  if (o->ports_file_dir.empty()) return;
  JsonWriter w;
  w.begin_object().key("nats").begin_array().value("nats://" + o->host + ":" + std::to_string(client_port_.load()));
  w.end_array();
  if (http_port_.load() != 0) {
    w.key("monitoring").begin_array().value("http://" + o->host + ":" + std::to_string(http_port_.load())).end_array();
  } else if (https_port_.load() != 0) {
    w.key("monitoring").begin_array().value("https://" + o->host + ":" + std::to_string(https_port_.load())).end_array();
  }
  if (cluster_) {
    w.key("cluster").begin_array().value("nats://" + join_host_port(o->cluster.host, cluster_->port())).end_array();
  }
  w.end_object();
  const std::string path = (std::filesystem::path(o->ports_file_dir) /
                            ("forest-server_" + std::to_string(::getpid()) + ".ports"))
                               .string();
  std::ofstream out(path, std::ios::trunc);
  if (!out) {
    log_->error("Error writing ports file ({})", path);
    return;
  }
  out << w.str();
  std::lock_guard lock(mu_);
  ports_file_ = path;
}

bool Server::password_matches(const std::string& configured, std::string_view given) {
  return matches_password(configured, given);
}

Account* Server::find_account_cached(std::string_view name) {
  // Accounts live as long as the server, so a remembered pointer stays valid.
  thread_local const Server* owner = nullptr;
  thread_local std::string last_name;
  thread_local Account* last = nullptr;
  if (owner == this && last != nullptr && last_name == name) return last;
  Account* found = find_account(name);
  if (found != nullptr) {
    owner = this;
    last_name.assign(name);
    last = found;
  }
  return found;
}

std::vector<std::string> Server::own_client_urls() const {
  const auto o = options();
  if (!o->client_advertise.empty()) {
    auto adv = parse_route_url(o->client_advertise, client_port_.load());
    if (adv) return {adv->host_port()};
  }
  if (!listens_everywhere(o->host)) return {join_host_port(o->host, client_port_.load())};
  std::vector<std::string> urls;
  for (const std::string& ip : non_loopback_addresses()) urls.push_back(join_host_port(ip, client_port_.load()));
  return urls;
}

void Server::cluster_urls_changed() {
  rebuild_info();
  for (const auto& c : clients()) c->send_async_info();
}

void Server::rebuild_info() {
  const auto o = options();
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_id_);
  w.field("server_name", server_name());
  w.field("version", kNatsCompatVersion);
  w.field("proto", 1);
  w.field("go", std::string("forest-server ") + kForestVersion);
  w.field("host", host_for_info(*o));
  w.field("port", client_port_.load());
  w.field("headers", true);
  if (o->auth_required()) w.field("auth_required", true);
  if (const auto tls = client_tls_.load()) {
    w.field("tls_required", true);
    if (tls_context_verifies(*tls)) w.field("tls_verify", true);
  }
  // A connection's own max_payload (its account's limit may be lower) goes in between.
  const std::size_t payload_at = w.str().size();
  w.field("max_payload", o->max_payload);
  const std::size_t payload_end = w.str().size();
  // JetStream is on when the options say so and its service is registered: start() fails when
  // the service does not start, so clients never see the flag without JetStream serving.
  if (o->jetstream.enabled && jetstream_monitor_ != nullptr) w.field("jetstream", true);
  if (cluster_ && !o->cluster.no_advertise) {
    // Once the cluster knows other servers, clients learn them all (this one first), as from
    // nats-server, so that they can fail over.
    std::vector<std::string> remote = cluster_->remote_client_urls();
    if (!remote.empty()) {
      w.key("connect_urls").begin_array();
      std::vector<std::string> all = own_client_urls();
      for (auto& u : remote) {
        if (std::find(all.begin(), all.end(), u) == all.end()) all.push_back(std::move(u));
      }
      for (const auto& u : all) w.value(u);
      w.end_array();
    }
  }
  std::string json = w.take();  // left open: client_id and client_ip follow per connection
  std::lock_guard lock(mu_);
  info_json_prefix_ = json.substr(0, payload_at);
  info_json_after_payload_ = json.substr(payload_end);
  info_max_payload_ = o->max_payload;
}

std::string Server::info_line(uint64_t cid, std::string_view client_ip, std::string_view nonce,
                              int64_t max_payload) const {
  std::string line;
  {
    std::lock_guard lock(mu_);
    line.reserve(info_json_prefix_.size() + info_json_after_payload_.size() + 96);
    line.append("INFO ");
    line.append(info_json_prefix_);
    line.append(",\"max_payload\":");
    line.append(std::to_string(max_payload < 0 ? info_max_payload_ : max_payload));
    line.append(info_json_after_payload_);
  }
  line.append(",\"client_id\":");
  line.append(std::to_string(cid));
  if (!client_ip.empty()) {
    line.append(",\"client_ip\":\"");
    line.append(client_ip);
    line.append("\"");
  }
  if (!nonce.empty()) {
    line.append(",\"nonce\":\"");
    line.append(nonce);
    line.append("\"");
  }
  if (lame_duck_.load()) line.append(",\"ldm\":true");
  line.append("} \r\n");
  return line;
}

void Server::do_accept() {
  if (!acceptor_ || !acceptor_->is_open()) return;
  IoThread& io = *io_threads_[next_io_.fetch_add(1) % io_threads_.size()];
  acceptor_->async_accept(io.context(), [this, &io](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || shutting_down_.load()) return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning, doubling the
      // pause up to a second (nats-server's ACCEPT_MIN_SLEEP / ACCEPT_MAX_SLEEP).
      log_->error("Temporary Client Accept Error({}), sleeping {}ms", ec.message(), accept_delay_.count());
      accept_retry_.expires_after(accept_delay_);
      accept_delay_ = std::min<std::chrono::milliseconds>(accept_delay_ * 2, kAcceptRetryMax);
      accept_retry_.async_wait([this](const error_code& e) {
        if (!e) do_accept();
      });
      return;
    }
    accept_delay_ = kAcceptRetryMin;
    on_accepted(io, std::move(socket));
    do_accept();
  });
}

void Server::on_accepted(IoThread& io, tcp::socket socket) {
  const uint64_t cid = next_cid_.fetch_add(1) + 1;
  auto conn = std::make_shared<ClientConn>(*this, io, std::move(socket), cid);
  counters_.total_connections.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    clients_.emplace(cid, conn);
  }
  asio::post(io.context(), [conn] { conn->start(); });
}

bool Server::register_client(std::shared_ptr<ClientEndpoint> conn) {
  // Checked under mu_: shutdown() sets shutting_down_ before it takes the snapshot of clients
  // it closes (under mu_), so a client registered here is either in that snapshot or refused.
  std::lock_guard lock(mu_);
  if (shutting_down_.load() || !running_.load()) return false;
  counters_.total_connections.fetch_add(1, std::memory_order_relaxed);
  clients_.emplace(conn->client_id(), std::move(conn));
  return true;
}

void Server::client_connected(const ClientEndpoint& conn) {
  if (system_ != nullptr) system_->client_connected(conn.snapshot(false));
}

void Server::client_closed(const ClientEndpoint& conn, ConnSnapshot final_state) {
  if (system_ != nullptr) {
    system_->client_disconnected(final_state);
    // Every way a client fails authentication ends here with this reason: a CONNECT that does
    // not pass, a first operation other than CONNECT, credentials a reload no longer accepts.
    if (final_state.reason == CloseReason::authentication_violation) system_->auth_failed(final_state);
  }
  Account* account = find_account(final_state.account.empty() ? std::string_view(kGlobalAccount) : final_state.account);
  // A TCP client that is a slow consumer is always closed for it (in-process ones count where
  // they drop messages).
  if (account != nullptr && (final_state.reason == CloseReason::slow_consumer_pending_bytes ||
                             final_state.reason == CloseReason::slow_consumer_write_deadline)) {
    account->count_slow_consumer();
  }
  std::lock_guard lock(mu_);
  // Under mu_ with the erase below, as clients_and() reads: counted live or closed, once.
  if (account != nullptr) {
    account->add_closed_traffic({final_state.in_msgs, final_state.in_bytes, final_state.out_msgs, final_state.out_bytes});
  }
  // Under mu_, as traffic() reads: the connection's own counts move into the server's at once.
  TrafficCounts own;
  conn.add_own_traffic(own);
  counters_.in_msgs.fetch_add(own.in_msgs, std::memory_order_relaxed);
  counters_.in_bytes.fetch_add(own.in_bytes, std::memory_order_relaxed);
  counters_.out_msgs.fetch_add(own.out_msgs, std::memory_order_relaxed);
  counters_.out_bytes.fetch_add(own.out_bytes, std::memory_order_relaxed);
  clients_.erase(conn.client_id());
  closed_.push_back(std::move(final_state));
  if (closed_.size() > kMaxClosedClients) closed_.pop_front();
  if (clients_.empty()) stopped_cv_.notify_all();
}

std::size_t Server::num_clients() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

TrafficCounts Server::traffic() const {
  std::lock_guard lock(mu_);
  TrafficCounts t{counters_.in_msgs.load(), counters_.in_bytes.load(), counters_.out_msgs.load(),
                  counters_.out_bytes.load()};
  for (const auto& [cid, c] : clients_) c->add_own_traffic(t);
  return t;
}

std::vector<std::shared_ptr<ClientEndpoint>> Server::clients() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<ClientEndpoint>> out;
  out.reserve(clients_.size());
  for (const auto& [cid, c] : clients_) out.push_back(c);
  return out;
}

std::vector<std::shared_ptr<ClientEndpoint>> Server::clients_and(const std::function<void()>& also) const {
  std::lock_guard lock(mu_);
  also();
  std::vector<std::shared_ptr<ClientEndpoint>> out;
  out.reserve(clients_.size());
  for (const auto& [cid, c] : clients_) out.push_back(c);
  return out;
}

std::vector<ConnSnapshot> Server::closed_clients() const {
  std::lock_guard lock(mu_);
  return {closed_.begin(), closed_.end()};
}

std::optional<AuthResult> Server::authenticate(const Credentials& c, const Options& o) const {
  Account* global = accounts_.front().get();
  if (!o.auth_required()) return AuthResult{global, "", nullptr};
  if (!o.token.empty()) {
    if (!matches_password(o.token, c.token)) return std::nullopt;
    return AuthResult{global, "", nullptr};
  }
  if (!o.username.empty()) {
    if (c.user != o.username || !matches_password(o.password, c.pass)) return std::nullopt;
    return AuthResult{global, o.username, nullptr};
  }
  std::string_view user = c.user;
  bool no_auth = false;
  if (user.empty() && c.pass.empty() && c.token.empty() && !o.no_auth_user.empty()) {
    user = o.no_auth_user;
    no_auth = true;
  }
  auto account_of = [&](const User& u) {
    Account* acc = global;
    if (!u.account.empty()) {
      for (const auto& a : accounts_) {
        if (a->name() == u.account) acc = a.get();
      }
    }
    return acc;
  };
  // A user limited to some connection types (allowed_connection_types) is refused on others.
  auto type_allowed = [&](const User& u) {
    return u.allowed_connection_types.empty() ||
           std::ranges::find(u.allowed_connection_types, c.connection_type) != u.allowed_connection_types.end();
  };
  if (!c.nkey.empty()) {
    // An nkey user proves itself with the signature of this connection's nonce.
    for (const User& u : o.users) {
      if (u.nkey.empty() || u.nkey != c.nkey) continue;
      if (!type_allowed(u) || !nkeys::verify_nonce_signature(u.nkey, c.nonce, c.sig)) return std::nullopt;
      return AuthResult{account_of(u), u.nkey, u.permissions};
    }
    return std::nullopt;
  }
  if (o.tls.map) {
    // verify_and_map: the client certificate names the user; no password is asked for.
    if (c.cert == nullptr) {
      log_->debug("User required in cert, no peer certificates found");
      return std::nullopt;
    }
    const CertMatch m = map_certificate_to_user(*c.cert, o.users);
    if (m.user == nullptr) {
      log_->debug("User in cert [\"{}\"], not found", c.cert->rdn_string);
      return std::nullopt;
    }
    if (!type_allowed(*m.user)) return std::nullopt;
    log_->debug("Using {} found in cert for auth [\"{}\"]", m.how, m.user->username);
    if (!c.user.empty()) log_->warn("User \"{}\" found in connect proto, but user required from cert", c.user);
    return AuthResult{account_of(*m.user), m.user->username, m.user->permissions};
  }
  for (const User& u : o.users) {
    if (!u.nkey.empty() || u.username != user) continue;
    if (!type_allowed(u)) return std::nullopt;
    if (!no_auth && !matches_password(u.password, c.pass)) return std::nullopt;
    return AuthResult{account_of(u), u.username, u.permissions};
  }
  return std::nullopt;
}

std::expected<std::vector<std::string>, std::string> Server::reload() {
  if (!loader_) return std::unexpected(std::string("no configuration to reload from"));
  auto fresh = loader_();
  if (!fresh) return std::unexpected(fresh.error());
  if (auto r = validate_options(*fresh); !r) return std::unexpected(r.error());
  const auto old = options();
  Options next = std::move(*fresh);
  // What cannot change while running (nats-server refuses the same ones).
  auto refuse = [](const std::string& what) {
    return std::unexpected("config reload not supported for " + what);
  };
  if (next.host != old->host) return refuse("host");
  if (next.port != old->port) return refuse("port");
  if (next.http_port != old->http_port || next.http_host != old->http_host) return refuse("http monitor");
  if (next.https_port != old->https_port) return refuse("https monitor");
  if (next.server_name != old->server_name) return refuse("server_name");
  if (next.io_threads != old->io_threads) return refuse("io_threads");
  const auto& nc = next.cluster;
  const auto& oc = old->cluster;
  if (nc.host != oc.host || nc.port != oc.port || nc.name != oc.name || nc.routes != oc.routes ||
      nc.advertise != oc.advertise || nc.no_advertise != oc.no_advertise || nc.username != oc.username ||
      nc.password != oc.password || nc.connect_retries != oc.connect_retries || nc.tls.enabled != oc.tls.enabled) {
    return refuse("cluster");
  }
  if (next.node_info != old->node_info || next.registry != old->registry) return refuse("discovery (node_info, registry)");
  if (next.client_advertise != old->client_advertise) return refuse("client_advertise");
  // The JetStream service was built from the options at start (store, sync, domain): a change
  // needs a restart, never a silent half-applied reload.
  const auto& nj = next.jetstream;
  const auto& oj = old->jetstream;
  if (nj.enabled != oj.enabled || nj.store_dir != oj.store_dir || nj.max_memory != oj.max_memory ||
      nj.max_store != oj.max_store || nj.domain != oj.domain || nj.sync_interval != oj.sync_interval) {
    return refuse("jetstream (restart the server to change it)");
  }
  for (const User& u : next.users) {
    if (!u.account.empty() && find_account(u.account) == nullptr) return refuse("accounts (new account " + u.account + ")");
  }
  for (const AccountConfig& a : next.accounts) {
    if (find_account(a.name) == nullptr) return refuse("accounts (new account " + a.name + ")");
  }
  if (next.effective_system_account() != old->effective_system_account()) return refuse("system_account");
  if (next.no_auth_user != old->no_auth_user && !no_auth_user_removed_with_user(*old, next)) {
    return refuse("no_auth_user: old=" + old->no_auth_user + ", new=" + next.no_auth_user);
  }

  std::vector<std::string> changes;
  auto note = [&](bool changed, const std::string& what) {
    if (changed) changes.push_back(what);
  };
  note(next.debug != old->debug, "debug = " + std::string(next.debug ? "true" : "false"));
  note(next.trace != old->trace, "trace = " + std::string(next.trace ? "true" : "false"));
  note(next.logtime != old->logtime, "logtime = " + std::string(next.logtime ? "true" : "false"));
  note(next.log_file != old->log_file, "log_file = " + next.log_file);
  note(next.max_payload != old->max_payload, "max_payload = " + std::to_string(next.max_payload));
  note(next.max_pending != old->max_pending, "max_pending = " + std::to_string(next.max_pending));
  note(next.max_control_line != old->max_control_line, "max_control_line = " + std::to_string(next.max_control_line));
  note(next.max_connections != old->max_connections, "max_connections = " + std::to_string(next.max_connections));
  note(next.max_subscriptions != old->max_subscriptions, "max_subscriptions = " + std::to_string(next.max_subscriptions));
  note(next.ping_interval != old->ping_interval, "ping_interval = " + format_go_duration(next.ping_interval));
  note(next.ping_max != old->ping_max, "ping_max = " + std::to_string(next.ping_max));
  note(next.write_deadline != old->write_deadline, "write_deadline = " + format_go_duration(next.write_deadline));
  note(next.auth_timeout != old->auth_timeout, "authorization timeout = " + format_go_duration(next.auth_timeout));
  bool limits_changed = false;
  for (const AccountConfig& a : next.accounts) {
    Account* acc = find_account(a.name);
    if (acc->limits() == a.limits) continue;
    limits_changed = true;
    changes.push_back("account " + a.name + " limits");
  }
  // Imports and exports are applied as nats-server's reload does (it rebuilds the accounts
  // from the new file): every import is set up again from the new configuration.
  bool imports_changed = next.accounts.size() != old->accounts.size();
  for (std::size_t i = 0; !imports_changed && i < next.accounts.size(); ++i) {
    imports_changed = next.accounts[i].name != old->accounts[i].name ||
                      !next.accounts[i].same_imports_exports(old->accounts[i]);
  }
  note(imports_changed, "account imports and exports");
  const bool auth_changed = next.username != old->username || next.password != old->password ||
                            next.token != old->token || next.no_auth_user != old->no_auth_user ||
                            next.users.size() != old->users.size() ||
                            !std::equal(next.users.begin(), next.users.end(), old->users.begin(),
                                        [](const User& a, const User& b) {
                                          return a.username == b.username && a.password == b.password &&
                                                 a.nkey == b.nkey && a.account == b.account &&
                                                 a.allowed_connection_types == b.allowed_connection_types &&
                                                 same_permissions(a, b);
                                        });
  note(auth_changed, "authorization");
  note(next.pid_file != old->pid_file, "pid_file = " + next.pid_file);
  note(next.lame_duck_duration != old->lame_duck_duration, "lame_duck_duration");
  note(next.lame_duck_grace_period != old->lame_duck_grace_period, "lame_duck_grace_period");

  // TLS: new connections use the new context (certificates read again), open ones keep theirs.
  std::shared_ptr<TlsContext> next_tls;
  const bool tls_changed = next.tls != old->tls || next.tls.enabled;
  if (next.tls.enabled) {
    auto ctx = make_tls_server_context(next.tls);
    if (!ctx) return std::unexpected(ctx.error());
    next_tls = std::move(*ctx);
  }
  if (next.tls.enabled != old->tls.enabled) {
    changes.push_back(std::string("tls = ") + (next.tls.enabled ? "enabled" : "disabled"));
  } else if (next.tls.enabled) {
    changes.push_back("tls = enabled");
  }
  note(next.tls.timeout() != old->tls.timeout(), "tls timeout = " + std::to_string(next.tls.timeout()));
  // Routes and https likewise: their certificates read again for new routes and sessions.
  std::shared_ptr<TlsContext> next_route_tls, next_https;
  if (cluster_ && next.cluster.tls.enabled) {
    auto ctx = make_tls_route_context(next.cluster.tls);
    if (!ctx) return std::unexpected("cluster " + ctx.error());
    next_route_tls = std::move(*ctx);
    changes.push_back("cluster tls = enabled");
  }
  if (https_port_.load() != 0) {
    if (!next.tls.enabled) return std::unexpected(std::string("TLS cert and key required for HTTPS"));
    auto ctx = make_tls_server_context(https_tls_options(next.tls));
    if (!ctx) return std::unexpected(ctx.error());
    next_https = std::move(*ctx);
  }
  note(next.effective_auth_timeout() != old->effective_auth_timeout() && next.auth_timeout == old->auth_timeout,
       "authorization timeout = " + format_go_duration(next.effective_auth_timeout()));

  if (next.log_file != old->log_file) {
    std::string err;
    if (!log_->open(next.log_file, &err)) return std::unexpected(err);
  }
  const Duration next_auth_timeout = next.effective_auth_timeout();
  auto shared = std::make_shared<const Options>(std::move(next));
  if (tls_changed) client_tls_.store(std::move(next_tls));
  if (next_route_tls) cluster_->set_tls(std::move(next_route_tls), next.cluster.tls.timeout());
  if (next_https && monitor_) monitor_->set_tls(std::move(next_https));
  opts_.store(shared);
  update_slow_auth();
  log_->set_levels(shared->debug, shared->trace, shared->logtime);
  // New account limits: max_payload and max_subscriptions reach open connections with
  // apply_options() below (a SUB past the new maximum is refused; existing ones stay), and
  // max_connections is checked for clients that connect from now on.
  if (limits_changed) {
    for (const AccountConfig& a : shared->accounts) find_account(a.name)->set_limits(a.limits);
  }
  if (imports_changed) imports_->apply(import_configs(*shared));
  rebuild_info();
  for (const auto& c : clients()) c->apply_options();
  if (auth_changed || next_auth_timeout != old->effective_auth_timeout()) {
    // Clients whose credentials no longer pass are disconnected, as nats-server does; those
    // that have not sent CONNECT yet get the new requirement and timeout.
    for (const auto& c : clients()) c->recheck_authorization(auth_changed);
  }
  if (shared->max_connections != old->max_connections) enforce_max_connections(shared->max_connections);
  for (const std::string& change : changes) log_->info("Reloaded: {}", change);
  log_->info("Reloaded server configuration");
  return changes;
}

// Same rules in force (the pointers differ from one parse to the next).
bool Server::same_permissions(const User& a, const User& b) {
  if (!a.permissions || !b.permissions) return a.permissions == b.permissions;
  return a.permissions->config() == b.permissions->config();
}

// nats-server's reload refuses any change of no_auth_user except dropping it together with
// its user (reload.go): clients let in as that user must not silently become someone else.
bool Server::no_auth_user_removed_with_user(const Options& old, const Options& next) {
  if (old.no_auth_user.empty() || !next.no_auth_user.empty()) return false;
  return std::none_of(next.users.begin(), next.users.end(),
                      [&](const User& u) { return u.username == old.no_auth_user; });
}

// After max_connections was lowered: close the excess, newest first (the ones the new limit
// would have refused), with the error nats-server sends (its maxConnOption picks at random).
void Server::enforce_max_connections(int64_t max) {
  if (max <= 0) return;
  auto all = clients();  // by connection id, oldest first
  if (all.size() <= static_cast<std::size_t>(max)) return;
  // The embedding app's own connections are the last to go (they are at the front now).
  std::stable_partition(all.begin(), all.end(), [](const auto& c) { return c->in_process(); });
  const std::size_t excess = all.size() - static_cast<std::size_t>(max);
  for (std::size_t i = 0; i < excess; ++i) {
    all[all.size() - 1 - i]->close_with_error(protocol::err::kMaxConnections, CloseReason::max_connections_exceeded);
  }
  log_->info("Closed {} connections to fall within max_connections", excess);
}

void Server::reopen_log() {
  std::string err;
  if (!log_->open(options()->log_file, &err)) {
    log_->error("{}", err);
    return;
  }
  log_->info("File log re-opened");
}

void Server::close_all_clients(CloseReason reason) {
  for (const auto& c : clients()) c->request_close(reason);
}

void Server::enter_lame_duck_mode() {
  if (lame_duck_.exchange(true) || shutting_down_.load()) return;
  asio::post(control_, [this] {
    const auto o = options();
    log_->info("Entering lame duck mode, stop accepting new clients");
    error_code ec;
    if (acceptor_) acceptor_->close(ec);
    for (const auto& c : clients()) c->notify_lame_duck();
    if (cluster_) cluster_->notify_lame_duck();  // other servers stop pointing clients here
    const auto grace = std::chrono::duration_cast<std::chrono::steady_clock::duration>(o->lame_duck_grace_period);
    const auto spread = std::chrono::duration_cast<std::chrono::steady_clock::duration>(o->lame_duck_duration);
    lame_duck_timer_.expires_after(grace);
    lame_duck_timer_.async_wait([this, spread](const error_code& e) {
      if (e) return;
      lame_duck_step(std::chrono::steady_clock::now() + spread);
    });
  });
}

// Closes clients a few at a time so that they do not all reconnect elsewhere at once.
void Server::lame_duck_step(std::chrono::steady_clock::time_point deadline) {
  auto remaining = clients();
  // The embedding app's own connections go last: it may still be handing work over.
  std::stable_partition(remaining.begin(), remaining.end(), [](const auto& c) { return !c->in_process(); });
  if (remaining.empty()) {
    std::thread([this] { shutdown(); }).detach();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto left = deadline > now ? deadline - now : std::chrono::steady_clock::duration::zero();
  // Spread what is left over the remaining time in steps of at least 10ms.
  const auto step = std::max<std::chrono::steady_clock::duration>(std::chrono::milliseconds(10),
                                                                   left / static_cast<long>(remaining.size()));
  const std::size_t per_step = std::max<std::size_t>(1, remaining.size() * static_cast<std::size_t>(step.count()) /
                                                            static_cast<std::size_t>(std::max<long>(1, left.count())));
  for (std::size_t i = 0; i < per_step && i < remaining.size(); ++i) remaining[i]->request_close(CloseReason::server_shutdown);
  // Once the last ones are on their way out, check back soon rather than a whole step later.
  lame_duck_timer_.expires_after(per_step >= remaining.size() ? std::chrono::milliseconds(100) : step);
  lame_duck_timer_.async_wait([this, deadline](const error_code& e) {
    if (!e) lame_duck_step(deadline);
  });
}

void Server::shutdown() {
  if (shutting_down_.exchange(true)) return;
  if (!running_.load()) {
    auth_pool_.stop();
    auth_pool_.join();
    std::lock_guard lock(mu_);
    stopped_ = true;
    stopped_cv_.notify_all();
    return;
  }
  log_->info("Initiating Shutdown...");
  asio::post(control_, [this] {
    error_code ec;
    if (acceptor_) acceptor_->close(ec);
    accept_retry_.cancel();
    lame_duck_timer_.cancel();
    trim_timer_.cancel();
  });
  // The monitor has its own thread: joined here, while every connection it may look at exists.
  if (monitor_) monitor_->stop();
  if (cluster_) cluster_->stop();  // no more dials; routes close with the clients
  close_all_clients(CloseReason::server_shutdown);
  {
    // Give clients a moment to receive what they were owed, then stop regardless.
    std::unique_lock lock(mu_);
    stopped_cv_.wait_for(lock, kShutdownFlushWait, [this] { return clients_.empty(); });
  }
  // Services stop while every thread still runs (they drain work on the service thread).
  for (std::size_t i = services_started_; i > 0; --i) services_[i - 1]->stop();
  services_started_ = 0;
  control_work_.reset();
  control_.stop();
  if (control_thread_.joinable()) control_thread_.join();
  // A cancelled accept still holds a socket of an I/O thread's context: let it complete
  // (with operation_aborted) while those contexts exist.
  control_.restart();
  control_.poll();
  acceptor_.reset();
  monitor_.reset();
  // Pending credential checks post back to I/O threads: let them finish first.
  auth_pool_.stop();
  auth_pool_.join();
  for (auto& t : io_threads_) t->stop();
  service_thread_->stop();
  for (auto& t : io_threads_) t->join();
  service_thread_->join();
  closer_.stop();  // after the I/O threads: they hand sockets over until they stop
  {
    std::lock_guard lock(mu_);
    clients_.clear();
  }
  cluster_.reset();  // its timers belong to the I/O threads' contexts: gone before them
  io_threads_.clear();
  service_thread_.reset();
  const auto o = options();
  std::error_code fec;
  if (!o->pid_file.empty()) std::filesystem::remove(o->pid_file, fec);
  {
    std::lock_guard lock(mu_);
    if (!ports_file_.empty()) std::filesystem::remove(ports_file_, fec);
  }
  running_.store(false);
  log_->info("Server Exiting..");
  std::lock_guard lock(mu_);
  stopped_ = true;
  stopped_cv_.notify_all();
}

void Server::wait() {
  std::unique_lock lock(mu_);
  stopped_cv_.wait(lock, [this] { return stopped_; });
}

}  // namespace forest::broker

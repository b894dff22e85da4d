#include "cluster.hpp"

#include <algorithm>
#include <random>

#include "io_thread.hpp"
#include "listener.hpp"
#include "protocol/encoder.hpp"
#include "route_conn.hpp"
#include "server.hpp"
#include "tls.hpp"

namespace forest::broker {
namespace {

constexpr auto kDialTimeout = std::chrono::seconds(2);
constexpr auto kFirstRetry = std::chrono::milliseconds(1000);
constexpr auto kMaxRetry = std::chrono::milliseconds(5000);

// A dynamic cluster name, as nats-server makes one (a NUID: 22 of [0-9A-Za-z]).
std::string random_cluster_name() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::mt19937_64 rng(rd());
  std::string name(22, '0');
  for (char& c : name) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return name;
}

std::chrono::milliseconds jittered(std::chrono::milliseconds d) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  // Up to 100 ms more, as nats-server adds to every reconnect, so two servers that lost each
  // other at once do not dial at the same instant again.
  return d + std::chrono::milliseconds(rng() % 100);
}

}  // namespace

const char* RouteDialer::kind_name() const {
  switch (kind) {
    case Kind::configured: return "configured";
    case Kind::discovered: return "discovered";
    case Kind::implicit: return "implicit";
  }
  return "";
}

Cluster::Cluster(Server& server, asio::io_context& control) : server_(server), control_(control) {
  const auto o = server_.options();
  name_ = o->cluster.name;
  dynamic_ = name_.empty();
  if (dynamic_) name_ = random_cluster_name();
}

Cluster::~Cluster() { stop(); }

std::string Cluster::name() const {
  std::lock_guard lock(mu_);
  return name_;
}

bool Cluster::dynamic_name() const {
  std::lock_guard lock(mu_);
  return dynamic_;
}

const std::string& Cluster::server_id() const { return server_.server_id(); }

IoThread& Cluster::next_io() {
  auto threads = server_.io_threads();
  return *threads[next_io_.fetch_add(1) % threads.size()];
}

std::expected<void, std::string> Cluster::start() {
  const auto o = server_.options();
  if (o->cluster.tls.enabled) {
    auto ctx = make_tls_route_context(o->cluster.tls);
    if (!ctx) return std::unexpected("cluster " + ctx.error());
    set_tls(std::move(*ctx), o->cluster.tls.timeout());
    tls_enabled_ = true;
    for (const std::string& text : o->cluster.routes) {
      auto url = parse_route_url(text);
      error_code ec;
      if (!url || url->host.empty()) continue;
      (void)asio::ip::make_address(url->host, ec);
      if (ec) {
        tls_name_ = url->host;
        break;
      }
    }
  }
  acceptor_ = std::make_unique<tcp::acceptor>(control_);
  accept_retry_ = std::make_unique<asio::steady_timer>(control_);
  auto bound = open_listener(*acceptor_, o->cluster.host, o->cluster.port == kRandomPort ? 0 : o->cluster.port);
  if (!bound) return std::unexpected("Error listening on router port: " + std::to_string(o->cluster.port) + " - " + bound.error());
  port_.store(*bound);
  server_.log().info("Cluster name is {}", name());
  if (dynamic_name()) server_.log().warn("Cluster name was dynamically generated, consider setting one");
  server_.log().info("Listening for route connections on {}", join_host_port(o->cluster.host, *bound));
  for (Account* a : server_.accounts()) a->set_interest_listener(this);
  do_accept();
  std::lock_guard lock(mu_);
  for (const std::string& text : o->cluster.routes) {
    auto url = parse_route_url(text);
    if (!url) {
      server_.log().error("Error parsing route URL: {}", url.error());
      continue;
    }
    arm_locked(add_dialer_locked(std::move(*url), RouteDialer::Kind::configured), std::chrono::milliseconds(0));
  }
  return {};
}

void Cluster::stop() {
  if (stopped_.exchange(true)) return;
  for (Account* a : server_.accounts()) a->set_interest_listener(nullptr);
  asio::post(control_, [this] {
    error_code ec;
    if (acceptor_) acceptor_->close(ec);
    if (accept_retry_) accept_retry_->cancel();
  });
  RouteList all;
  {
    std::lock_guard lock(mu_);
    for (const DialerPtr& d : dialers_) {
      d->state = RouteDialer::State::retired;
      ++d->generation;
      if (d->timer) asio::post(d->io->context(), [d] { d->timer->cancel(); });
    }
    for (auto& [id, r] : by_remote_id_) all.push_back(r);
    all.insert(all.end(), pending_.begin(), pending_.end());
  }
  for (const auto& r : all) r->drop(CloseReason::server_shutdown);
}

void Cluster::do_accept() {
  if (!acceptor_ || !acceptor_->is_open() || stopped_.load()) return;
  IoThread& io = next_io();
  acceptor_->async_accept(io.context(), [this, &io](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopped_.load()) return;
    if (ec) {
      // Out of descriptors and the like: back off (10 ms doubling to 1 s) instead of spinning.
      server_.log().error("Temporary Route Accept Error({}), sleeping {}ms", ec.message(), accept_delay_.count());
      accept_retry_->expires_after(accept_delay_);
      accept_delay_ = std::min(accept_delay_ * 2, std::chrono::milliseconds(1000));
      accept_retry_->async_wait([this](const error_code& e) {
        if (!e) do_accept();
      });
      return;
    }
    accept_delay_ = std::chrono::milliseconds(10);
    auto route = std::make_shared<RouteConn>(server_, *this, io, std::move(socket), server_.next_cid(), nullptr);
    {
      std::lock_guard lock(mu_);
      pending_.push_back(route);
    }
    asio::post(io.context(), [route] { route->start(); });
    do_accept();
  });
}

Cluster::DialerPtr Cluster::add_dialer_locked(RouteUrl url, RouteDialer::Kind kind) {
  for (const DialerPtr& d : dialers_) {
    if (d->url.same_endpoint(url)) {
      // Known already: a configured or discovered entry outranks a gossiped one.
      if (kind != RouteDialer::Kind::implicit && d->kind == RouteDialer::Kind::implicit) d->kind = kind;
      return d;
    }
  }
  auto d = std::make_shared<RouteDialer>();
  d->url = std::move(url);
  d->kind = kind;
  d->io = &next_io();
  d->timer = std::make_unique<asio::steady_timer>(d->io->context());
  dialers_.push_back(d);
  return d;
}

std::chrono::milliseconds Cluster::backoff(const RouteDialer& d) const {
  auto delay = kFirstRetry;
  for (int i = 1; i < d.failures && delay < kMaxRetry; ++i) delay = delay * 3 / 2;
  return jittered(std::min(delay, kMaxRetry));
}

void Cluster::arm_locked(const DialerPtr& d, std::chrono::milliseconds delay) {
  if (stopped_.load() || d->state == RouteDialer::State::retired || d->state == RouteDialer::State::self) return;
  d->state = RouteDialer::State::waiting;
  const uint64_t gen = ++d->generation;
  // The timer belongs to the dialer's I/O thread: armed there.
  asio::post(d->io->context(), [this, d, delay, gen] {
    d->timer->expires_after(delay);
    d->timer->async_wait([this, d, gen](const error_code& ec) {
      if (!ec) dial(d, gen);
    });
  });
}

void Cluster::dial(const DialerPtr& d, uint64_t generation) {
  {
    std::lock_guard lock(mu_);
    if (stopped_.load() || d->generation != generation || d->state != RouteDialer::State::waiting) return;
    d->state = RouteDialer::State::dialing;
  }
  server_.log().debug("Trying to connect to route on {}", d->url.host_port());
  auto resolver = std::make_shared<tcp::resolver>(d->io->context());
  auto socket = std::make_shared<tcp::socket>(d->io->context());
  auto deadline = std::make_shared<asio::steady_timer>(d->io->context());
  deadline->expires_after(kDialTimeout);
  deadline->async_wait([socket, resolver](const error_code& ec) {
    if (ec) return;
    resolver->cancel();
    error_code ignored;
    socket->close(ignored);
  });
  resolver->async_resolve(
      d->url.host, std::to_string(d->url.port),
      [this, d, resolver, socket, deadline](const error_code& ec, tcp::resolver::results_type endpoints) {
        if (ec) {
          deadline->cancel();
          on_dial_failed(d, ec == asio::error::operation_aborted ? std::string("timed out") : ec.message());
          return;
        }
        asio::async_connect(*socket, endpoints, [this, d, socket, deadline](const error_code& cec, const tcp::endpoint&) {
          deadline->cancel();
          if (cec) {
            on_dial_failed(d, cec == asio::error::operation_aborted ? std::string("timed out") : cec.message());
            return;
          }
          auto route = std::make_shared<RouteConn>(server_, *this, *d->io, std::move(*socket), server_.next_cid(), d);
          {
            std::lock_guard lock(mu_);
            if (stopped_.load()) return;
            d->state = RouteDialer::State::handshaking;
            pending_.push_back(route);
          }
          route->start();  // we are on the dialer's I/O thread, the route's thread
        });
      });
}

void Cluster::on_dial_failed(const DialerPtr& d, const std::string& why) {
  std::lock_guard lock(mu_);
  if (stopped_.load() || d->state == RouteDialer::State::retired) return;
  ++d->failures;
  // The first failure and then one in thirty are errors; the rest would flood the log while a
  // configured peer is down for a while.
  if (d->failures == 1 || d->failures % 30 == 0) {
    server_.log().error("Error trying to connect to route (attempt {}): {} ({})", d->failures, d->url.redacted(), why);
  } else {
    server_.log().debug("Error trying to connect to route (attempt {}): {} ({})", d->failures, d->url.redacted(), why);
  }
  if (d->retried_forever()) {
    arm_locked(d, backoff(*d));
    return;
  }
  if (d->retry_on_failure) {
    d->retry_on_failure = false;
    arm_locked(d, jittered(kFirstRetry));
    return;
  }
  // Gossiped routes, as nats-server: connect_retries more attempts, a second apart, then given up.
  if (d->failures <= server_.options()->cluster.connect_retries) {
    arm_locked(d, jittered(kFirstRetry));
    return;
  }
  d->state = RouteDialer::State::retired;
  std::erase(dialers_, d);
}

std::string Cluster::info_line() const {
  const auto o = server_.options();
  RouteInfo info;
  info.id = server_.server_id();
  info.name = server_.server_name();
  info.version = kNatsCompatVersion;
  info.proto = 2;  // nats-server's RouteProtoV2: accounts on routes
  info.go = std::string("forest-server ") + kForestVersion;
  info.headers = true;
  info.auth_required = auth_required();
  info.tls_required = tls_enabled_;
  info.max_payload = o->max_payload;
  info.lnoc = true;
  info.forest = true;
  info.lame_duck = server_.lame_duck();
  if (!o->cluster.advertise.empty()) {
    auto adv = parse_route_url(o->cluster.advertise, port_.load());
    if (adv) {
      info.host = adv->host;
      info.port = adv->port;
      info.ip = "nats-route://" + adv->host_port() + "/";
    }
  } else {
    info.host = o->cluster.host;
    info.port = port_.load();
  }
  if (!o->cluster.no_advertise && !server_.lame_duck()) info.connect_urls = server_.own_client_urls();
  {
    std::lock_guard lock(mu_);
    info.cluster = name_;
    info.dynamic = dynamic_;
  }
  return "INFO " + route_info_json(info) + "\r\n";
}

void Cluster::set_tls(std::shared_ptr<TlsContext> ctx, double timeout_seconds) {
  auto t = std::make_shared<RouteTls>();
  t->ctx = std::move(ctx);
  t->timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_seconds));
  tls_.store(std::move(t));
}

std::string Cluster::tls_peer_name(const RouteUrl& url) const {
  error_code ec;
  (void)asio::ip::make_address(url.host, ec);
  if (!ec && !tls_name_.empty()) return tls_name_;
  return url.host;
}

std::string Cluster::connect_line(const RouteDialer* dialer) const {
  const auto o = server_.options();
  RouteConnect c;
  if (dialer != nullptr && !dialer->url.user.empty()) {
    c.user = dialer->url.user;
    c.pass = dialer->url.pass;
  } else {
    c.user = o->cluster.username;
    c.pass = o->cluster.password;
  }
  c.name = server_.server_id();
  c.tls_required = tls_enabled_;
  c.headers = true;
  c.lnoc = true;
  {
    std::lock_guard lock(mu_);
    c.cluster = name_;
    c.dynamic = dynamic_;
  }
  return "CONNECT " + route_connect_json(c) + "\r\n";
}

bool Cluster::auth_required() const { return !server_.options()->cluster.username.empty(); }

bool Cluster::authorize(const RouteConnect& c) const {
  const auto o = server_.options();
  return server_.password_matches(o->cluster.password, c.pass) && c.user == o->cluster.username;
}

bool Cluster::accept_cluster_name(std::string_view remote, bool remote_dynamic, const RouteConn& from) {
  RouteList others;
  {
    std::lock_guard lock(mu_);
    if (remote.empty() || remote == name_) return true;
    // nats-server's rule: a dynamic name gives way to a configured one, or to a greater one.
    if (!dynamic_ || (remote_dynamic && !(name_ < remote))) return false;
    server_.log().info("Cluster name updated to {}", remote);
    name_ = std::string(remote);
    dynamic_ = remote_dynamic;
    for (auto& [id, r] : by_remote_id_) {
      if (r.get() != &from) others.push_back(r);
    }
  }
  // The routes formed under the old name reconnect under the new one.
  for (const auto& r : others) r->drop(CloseReason::cluster_name_conflict);
  return true;
}

Cluster::Registration Cluster::register_route(const std::shared_ptr<RouteConn>& route, const RouteInfo& info,
                                              const std::string& remote_ip) {
  std::shared_ptr<RouteConn> replaced;
  {
    std::lock_guard lock(mu_);
    std::erase(pending_, route);
    const DialerPtr& dialer = route->dialer();
    if (info.id == server_.server_id()) {
      if (dialer) dialer->state = RouteDialer::State::self;
      return Registration::self;
    }
    if (stopped_.load()) return Registration::duplicate;
    if (!route->solicited() && !info.name.empty() && info.name == server_.server_name()) return Registration::duplicate_name;
    if (dialer) {
      dialer->remote_id = info.id;
      dialer->failures = 0;
      dialer->state = RouteDialer::State::connected;
    }
    auto existing = by_remote_id_.find(info.id);
    if (existing != by_remote_id_.end()) {
      // Between forest-servers: the connection solicited by the smaller server id wins on
      // both sides. With a nats-server peer: the first registered, as nats-server does.
      const std::string& self_id = server_.server_id();
      const std::string& smaller = std::min(self_id, info.id);
      auto solicitor = [&](const RouteConn& r) { return r.solicited() ? self_id : info.id; };
      const bool replace = info.forest && existing->second->remote_info().forest &&
                           solicitor(*route) == smaller && solicitor(*existing->second) != smaller;
      if (!replace) return Registration::duplicate;
      replaced = existing->second;
      // At once, not when its close runs: a message must not go to that server twice.
      replaced->refuse_messages();
      existing->second = route;
    } else {
      by_remote_id_.emplace(info.id, route);
      // A configured or gossiped URL for the same server is reached now.
      for (const DialerPtr& d : dialers_) {
        if (d->remote_id.empty() && d->url.host == info.host && d->url.port == info.port) {
          d->remote_id = info.id;
          if (d->state == RouteDialer::State::waiting) {
            d->state = RouteDialer::State::connected;
            ++d->generation;
          }
        }
      }
      if (by_remote_id_.size() > 1) gossip_locked(info, remote_ip, route.get());
    }
    publish_routes_locked();
  }
  if (replaced) replaced->drop(CloseReason::duplicate_route);
  // After it is published: every interest change from now on reaches it too, and what it is
  // sent here reflects everything before (see Account::for_each_interest).
  send_interest(*route);
  if (!info.connect_urls.empty()) server_.cluster_urls_changed();
  return Registration::registered;
}

void Cluster::gossip_locked(const RouteInfo& info, const std::string& remote_ip, const RouteConn* except) {
  RouteInfo g = info;
  if (g.ip.empty()) {
    // Where the others can dial it: the address it listens on when that is a specific one,
    // else (listening on all) the address its connection came from, as nats-server does.
    const bool wildcard = info.host.empty() || info.host == "0.0.0.0" || info.host == "::";
    g.ip = "nats-route://" + join_host_port(wildcard ? remote_ip : info.host, info.port) + "/";
  }
  const std::string line = "INFO " + route_info_json(g) + "\r\n";
  for (auto& [id, r] : by_remote_id_) {
    if (r.get() != except) r->send_protocol(line);
  }
}

void Cluster::publish_routes_locked() {
  auto list = std::make_shared<RouteList>();
  for (auto& [id, r] : by_remote_id_) list->push_back(r);
  published_ = std::move(list);
}

void Cluster::send_interest(RouteConn& route) {
  std::string buf;
  for (Account* a : server_.accounts()) {
    buf.clear();
    a->for_each_interest(
        [&](std::string_view subject, std::string_view queue, int32_t weight) {
          protocol::append_route_sub(buf, true, a->name(), subject, queue, weight);
        },
        // Queued before the lock is released, so no later RS- can overtake it.
        [&] {
          if (!buf.empty()) route.send_protocol(buf);
        });
  }
}

void Cluster::route_closed(RouteConn& route, bool was_registered) {
  bool urls_changed = false;
  bool failed_attempt = false;
  const DialerPtr& dialer = route.dialer();
  {
    std::lock_guard lock(mu_);
    std::erase_if(pending_, [&](const std::shared_ptr<RouteConn>& r) { return r.get() == &route; });
    if (stopped_.load()) return;
    const RouteInfo info = route.remote_info();
    auto it = was_registered ? by_remote_id_.find(info.id) : by_remote_id_.end();
    if (it != by_remote_id_.end() && it->second.get() == &route) {
      by_remote_id_.erase(it);
      publish_routes_locked();
      urls_changed = !info.connect_urls.empty();
      // The last route to that server: every dialer that reached it tries again.
      for (const DialerPtr& d : dialers_) {
        if (d->remote_id != info.id || d->state != RouteDialer::State::connected) continue;
        d->failures = 0;
        arm_locked(d, d->retried_forever() ? jittered(kFirstRetry) : jittered(std::chrono::milliseconds(0)));
      }
    }
    // Ours, closed before it registered (refused, wrong port, auth, reset): a failed attempt.
    failed_attempt = dialer && !was_registered && dialer->state == RouteDialer::State::handshaking;
  }
  if (failed_attempt) on_dial_failed(dialer, std::string("closed during handshake: ") + close_reason_text(route.close_reason()));
  if (urls_changed) server_.cluster_urls_changed();
}

void Cluster::learn_route(const RouteInfo& info) {
  if (stopped_.load() || info.id == server_.server_id()) return;
  std::string text = info.ip;
  if (text.empty()) text = join_host_port(info.host, info.port);
  auto url = parse_route_url(text);
  if (!url) {
    server_.log().error("Error parsing URL from INFO: {}", url.error());
    return;
  }
  std::lock_guard lock(mu_);
  if (by_remote_id_.contains(info.id)) return;
  for (const DialerPtr& d : dialers_) {
    if (d->remote_id == info.id || d->url.same_endpoint(*url)) {
      // Known, maybe in the middle of an attempt started while that server was unreachable (a
      // partition healing): a peer that just reached it says it is up, so a gossiped dialer
      // whose attempt now fails tries once more instead of giving up (else the mesh stays
      // broken until that server reconnects to someone again).
      if (d->state == RouteDialer::State::dialing || d->state == RouteDialer::State::handshaking) {
        d->retry_on_failure = true;
      }
      return;
    }
  }
  if (info.auth_required && url->user.empty()) {
    const auto o = server_.options();
    url->user = o->cluster.username;
    url->pass = o->cluster.password;
  }
  server_.log().debug("Learned of route {} ({}) through gossip", url->redacted(), info.id);
  DialerPtr d = add_dialer_locked(std::move(*url), RouteDialer::Kind::implicit);
  d->remote_id = info.id;
  arm_locked(d, std::chrono::milliseconds(0));
}

void Cluster::route_info_updated(const RouteConn&, const RouteInfo& before, const RouteInfo& now) {
  if (before.connect_urls != now.connect_urls || before.lame_duck != now.lame_duck) server_.cluster_urls_changed();
}

void Cluster::set_discovered_routes(const std::vector<std::string>& urls) {
  std::lock_guard lock(mu_);
  std::vector<RouteUrl> wanted;
  for (const std::string& text : urls) {
    auto url = parse_route_url(text);
    if (!url) {
      server_.log().error("Discovery: bad route URL {}: {}", text, url.error());
      continue;
    }
    wanted.push_back(std::move(*url));
  }
  // Gone from the registry: no longer redialed (a route that is up stays until it drops).
  std::erase_if(dialers_, [&](const DialerPtr& d) {
    if (d->kind != RouteDialer::Kind::discovered) return false;
    const bool keep = std::any_of(wanted.begin(), wanted.end(), [&](const RouteUrl& u) { return u.same_endpoint(d->url); });
    if (!keep) {
      server_.log().info("Discovery: {} left the registry", d->url.redacted());
      d->state = RouteDialer::State::retired;
      ++d->generation;
    }
    return !keep;
  });
  for (RouteUrl& url : wanted) {
    const bool known = std::any_of(dialers_.begin(), dialers_.end(), [&](const DialerPtr& d) { return d->url.same_endpoint(url); });
    if (known) continue;
    server_.log().info("Discovery: dialing {}", url.redacted());
    DialerPtr d = add_dialer_locked(std::move(url), RouteDialer::Kind::discovered);
    arm_locked(d, std::chrono::milliseconds(0));
  }
}

std::vector<std::shared_ptr<RouteConn>> Cluster::routes() const {
  std::lock_guard lock(mu_);
  return *published_;
}

std::size_t Cluster::num_routes() const {
  std::lock_guard lock(mu_);
  return by_remote_id_.size();
}

std::vector<std::string> Cluster::remote_client_urls() const {
  std::vector<std::shared_ptr<RouteConn>> list = routes();
  std::vector<std::string> out;
  for (const auto& r : list) {
    const RouteInfo info = r->remote_info();
    if (info.lame_duck) continue;  // its clients are being sent elsewhere
    for (const std::string& u : info.connect_urls) {
      if (std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
    }
  }
  return out;
}

std::vector<std::string> Cluster::configured_urls() const { return server_.options()->cluster.routes; }

bool Cluster::is_configured(const RouteConn& route) const {
  return route.dialer() && route.dialer()->retried_forever();
}

void Cluster::notify_lame_duck() {
  const std::string line = info_line();  // carries "ldm":true now
  for (const auto& r : routes()) r->send_protocol(line);
}

void Cluster::interest_changed(const Account& account, std::span<const InterestChange> changes) {
  std::shared_ptr<const RouteList> list;
  {
    std::lock_guard lock(mu_);
    list = published_;
  }
  if (list->empty()) return;
  std::string buf;
  for (const InterestChange& c : changes) protocol::append_route_sub(buf, c.weight > 0, account.name(), c.subject, c.queue, c.weight);
  for (const auto& r : *list) r->send_protocol(buf);
}

}  // namespace forest::broker

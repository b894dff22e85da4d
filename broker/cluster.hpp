// The cluster: the route listener, dialing (configured, discovered and gossiped routes), the
// registry of routes by remote server id, duplicate resolution, gossip, and interest going
// out to every route (InterestListener).
//
// Membership comes from one seed: a new node needs one peer; when a route registers, its INFO
// is forwarded to every other route and those servers dial the newcomer (implicit routes),
// so a full mesh forms from any connected graph of seeds.
//
// Duplicates (two servers dialing each other at once): between two forest-servers the
// connection solicited by the server with the smaller id wins on both sides, so exactly one
// survives and nothing flaps; with a nats-server peer the first registered wins, as it does
// there (its retry logic settles the rare case where both sides keep a different one).
//
// Reconnecting is keyed by remote server id, not by connection: when the last route to a
// server goes, every dialer that reached it dials again: configured and discovered ones
// forever with backoff, gossiped ones a few times (connect_retries, at least once).
//
// Threads: dialers live on an I/O thread each (their timers, resolver and sockets); the
// listener on the server's control thread; registration and closes run on the route's own
// thread; interest changes on whichever thread changed interest. State is under `mu_`; the
// list of registered routes is also published as an immutable snapshot for the interest path.
// Lock order: Account interest lock -> Cluster::mu_ (never the reverse) -> connection locks.
#pragma once

#include <atomic>
#include <chrono>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "account.hpp"
#include "asio.hpp"
#include "route_info.hpp"
#include "route_url.hpp"

namespace forest::broker {

class IoThread;
class RouteConn;
class Server;
struct TlsContext;

// One URL the cluster dials.
struct RouteDialer {
  enum class Kind : uint8_t { configured, discovered, implicit };
  enum class State : uint8_t { waiting, dialing, handshaking, connected, self, retired };

  RouteUrl url;
  Kind kind = Kind::configured;
  IoThread* io = nullptr;  // where its timer, resolver and socket live
  // Under Cluster::mu_:
  State state = State::waiting;
  std::string remote_id;  // learned at the peer's INFO
  int failures = 0;       // consecutive
  uint64_t generation = 0;  // bumps when re-armed, so stale timers do nothing
  // Gossip about this server arrived during an attempt: if the attempt fails, one more.
  bool retry_on_failure = false;
  std::unique_ptr<asio::steady_timer> timer;

  [[nodiscard]] bool retried_forever() const { return kind != Kind::implicit; }
  [[nodiscard]] const char* kind_name() const;
};

class Cluster final : public InterestListener {
 public:
  Cluster(Server& server, asio::io_context& control);
  ~Cluster() override;
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Opens the route listener and dials the configured routes (the I/O threads run already).
  [[nodiscard]] std::expected<void, std::string> start();
  // Stops listening and dialing, closes every route. Idempotent.
  void stop();

  [[nodiscard]] int port() const { return port_.load(); }
  [[nodiscard]] std::string name() const;
  [[nodiscard]] bool dynamic_name() const;
  [[nodiscard]] const std::string& server_id() const;

  // cluster { tls {} }: the context new routes handshake with and its timeout (null: plain
  // routes). Built by start(); a reload replaces it (files read again; open routes keep theirs),
  // but cannot turn route TLS on or off.
  struct RouteTls {
    std::shared_ptr<TlsContext> ctx;
    std::chrono::steady_clock::duration timeout{};
  };
  [[nodiscard]] std::shared_ptr<const RouteTls> tls() const { return tls_.load(); }
  void set_tls(std::shared_ptr<TlsContext> ctx, double timeout_seconds);
  // The name a dialed peer's certificate must carry: the URL's host, or for an IP address the
  // first host name among the configured routes (nats-server's routeTLSName), if any.
  [[nodiscard]] std::string tls_peer_name(const RouteUrl& url) const;

  // Route handshake pieces (any thread).
  [[nodiscard]] std::string info_line() const;  // "INFO {...}\r\n" of this server
  [[nodiscard]] std::string connect_line(const RouteDialer* dialer) const;
  [[nodiscard]] bool authorize(const RouteConnect& c) const;
  [[nodiscard]] bool auth_required() const;
  // A peer names its cluster: true when it is ours (or a dynamic name of ours gives way).
  bool accept_cluster_name(std::string_view remote, bool remote_dynamic, const RouteConn& from);

  enum class Registration : uint8_t { registered, duplicate, self, duplicate_name };
  // At the peer's first INFO (route's thread). On `registered` the route has been sent our
  // interest and its peer was gossiped to the other routes.
  Registration register_route(const std::shared_ptr<RouteConn>& route, const RouteInfo& info,
                              const std::string& remote_ip);
  // The route is gone (route's thread).
  void route_closed(RouteConn& route, bool was_registered);
  // An INFO about another server (gossip): dial it unless known.
  void learn_route(const RouteInfo& info);
  // A registered peer's INFO changed (connect_urls, lame duck).
  void route_info_updated(const RouteConn& route, const RouteInfo& before, const RouteInfo& now);
  // From discovery: the peers the registry lists now (added ones are dialed, removed ones no
  // longer redialed; their routes stay until they drop).
  void set_discovered_routes(const std::vector<std::string>& urls);

  [[nodiscard]] std::vector<std::shared_ptr<RouteConn>> routes() const;
  [[nodiscard]] std::size_t num_routes() const;
  // The other servers' client URLs (for connect_urls), without duplicates.
  [[nodiscard]] std::vector<std::string> remote_client_urls() const;
  // Configured route URLs as given (for /varz cluster.urls).
  [[nodiscard]] std::vector<std::string> configured_urls() const;
  [[nodiscard]] bool is_configured(const RouteConn& route) const;
  // Lame duck: tells the routes, so that their clients are no longer sent to us.
  void notify_lame_duck();

  // InterestListener
  void interest_changed(const Account& account, std::span<const InterestChange> changes) override;

 private:
  using DialerPtr = std::shared_ptr<RouteDialer>;
  using RouteList = std::vector<std::shared_ptr<RouteConn>>;

  void do_accept();
  DialerPtr add_dialer_locked(RouteUrl url, RouteDialer::Kind kind);
  void dial(const DialerPtr& d, uint64_t generation);
  void on_dial_failed(const DialerPtr& d, const std::string& why);
  // Under mu_: schedules the dialer's next attempt.
  void arm_locked(const DialerPtr& d, std::chrono::milliseconds delay);
  [[nodiscard]] std::chrono::milliseconds backoff(const RouteDialer& d) const;
  void publish_routes_locked();
  void send_interest(RouteConn& route);
  void gossip_locked(const RouteInfo& info, const std::string& remote_ip, const RouteConn* except);
  [[nodiscard]] IoThread& next_io();

  Server& server_;
  asio::io_context& control_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> accept_retry_;      // control thread
  std::chrono::milliseconds accept_delay_{10};            // control thread
  std::atomic<int> port_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<uint32_t> next_io_{0};
  std::atomic<std::shared_ptr<const RouteTls>> tls_;
  bool tls_enabled_ = false;  // written by start() before any route exists, then fixed
  std::string tls_name_;      // likewise

  mutable std::mutex mu_;
  std::string name_;     // cluster name (may be adopted from a peer when dynamic)
  bool dynamic_ = false;
  std::vector<DialerPtr> dialers_;
  std::map<std::string, std::shared_ptr<RouteConn>> by_remote_id_;  // registered routes
  RouteList pending_;  // connections whose handshake has not finished (closed by stop())
  // Registered routes, immutable, for the interest path and broadcasts.
  std::shared_ptr<const RouteList> published_ = std::make_shared<const RouteList>();
};

}  // namespace forest::broker

// A route: a connection to another server of the cluster, nats-server 2.9's route protocol
// (no pooling). On the shared connection machinery (connection.hpp).
//
// Handshake: the soliciting side sends CONNECT then INFO, the accepting side INFO; each side
// registers the route with the Cluster when the other's INFO arrives (checks: route to self,
// cluster name, duplicates), then sends all its local interest (RS+). Afterwards:
// - RS+/RS- from the peer put its interest into our subject index (remote subscriptions,
//   one per account/subject/queue, with queue weights), kept in `remote_subs_`;
// - RMSG/HMSG from the peer are delivered to local subscribers only (never to another route);
// - deliver_routed() sends one RMSG per message with the queue groups the peer should serve;
// - an INFO about another server (gossip) makes the Cluster dial it.
//
// Thread: pinned to its I/O thread like any connection; publishers on any thread deliver to
// it; the Cluster sends it protocol (RS+/RS-, gossip) from whatever thread changes interest.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "connection.hpp"
#include "route_info.hpp"

namespace forest::broker {

class Cluster;
struct RouteDialer;

class RouteConn final : public Connection {
 public:
  // `dialer`: the dialer that made this connection (we solicited it); null when accepted.
  RouteConn(Server& server, Cluster& cluster, IoThread& io, tcp::socket socket, uint64_t cid,
            std::shared_ptr<RouteDialer> dialer);
  ~RouteConn() override;

  // MessageSink: a message for one of the peer's subscriptions (no queue groups named).
  bool deliver(Subscription& sub, const Delivery& msg) override;
  bool deliver_routed(const Delivery& msg, std::span<const std::string_view> queues) override;

  // From any thread: protocol bytes for the peer (RS+/RS-, a gossiped INFO), in the order
  // the callers' lock gives them (see Connection::send_ordered).
  void send_protocol(std::string_view bytes) { send_ordered(bytes); }
  // From any thread: closes without redialing (a duplicate, or the cluster is going away).
  void drop(CloseReason reason);

  [[nodiscard]] bool solicited() const { return dialer_ != nullptr; }
  [[nodiscard]] const std::shared_ptr<RouteDialer>& dialer() const { return dialer_; }
  // The peer's INFO as received (copy, under info_mu_).
  [[nodiscard]] RouteInfo remote_info() const;
  [[nodiscard]] RouteSnapshot snapshot(bool with_subs) const;

 private:
  // Connection hooks
  bool on_start() override;
  void on_closing() override;
  void on_closed() override;
  bool on_kind_tick(Clock::time_point now) override;
  void load_kind_limits(const Options& opts) override;
  [[nodiscard]] const char* kind_label() const override { return "Route"; }
  [[nodiscard]] std::string describe() const override;

  // ParserHandler
  bool on_connect(std::string_view json) override;
  bool on_info(std::string_view json) override;
  bool on_message(const protocol::MessageArgs& args, std::string_view payload) override;
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) override;
  bool on_unsub(std::string_view sid, int64_t max) override;
  bool on_ping() override;
  bool on_pong() override;
  bool on_ok() override { return true; }
  bool on_err(std::string_view text) override;
  bool on_remote_sub(const protocol::RemoteSubArgs& args) override;
  bool on_remote_unsub(const protocol::RemoteSubArgs& args) override;
  bool on_account_sub(std::string_view) override { return true; }    // A+: interest-only mode, ignored
  bool on_account_unsub(std::string_view) override { return true; }  // A-

  bool first_info(RouteInfo info);
  void remove_remote_subscriptions();

  Cluster& cluster_;
  std::shared_ptr<RouteDialer> dialer_;
  bool connect_received_ = false;  // accepted side: the peer's CONNECT
  bool info_received_ = false;
  bool registered_ = false;        // with the Cluster (until on_closed)
  Clock::time_point handshake_deadline_{};
  std::atomic<bool> headers_{false};

  RouteInfo remote_;           // under info_mu_
  std::string remote_address_;  // the peer's route URL host:port, for gossip

  // The peer's interest by "account subject[ queue]" (owning thread; monitor under info_mu_).
  std::map<std::string, SubPtr, std::less<>> remote_subs_;
};

}  // namespace forest::broker

// Route lifecycle: greeting, delivery (RMSG/HMSG), closing, the handshake deadline and
// snapshots. The route verbs are in route_proto.cpp.
#include "route_conn.hpp"

#include "account.hpp"
#include "cluster.hpp"
#include "protocol/encoder.hpp"
#include "server.hpp"

namespace forest::broker {
namespace {

// The first PING on a route comes after 1 s (nats-server's firstPingInterval for non-clients).
constexpr auto kFirstRoutePing = std::chrono::seconds(1);
// A peer that has not finished the handshake by then is dropped (nats-server relies on the
// auth timer when authorization is on, and on pings otherwise; a dialer must not wait minutes).
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

}  // namespace

RouteConn::RouteConn(Server& server, Cluster& cluster, IoThread& io, tcp::socket socket, uint64_t cid,
                     std::shared_ptr<RouteDialer> dialer)
    : Connection(server, io, std::move(socket), cid, ConnKind::route, protocol::PeerKind::route),
      cluster_(cluster),
      dialer_(std::move(dialer)) {
  load_kind_limits(*server_.options());
  parser_.set_headers_allowed(true);
  // The soliciting side speaks first with CONNECT: on an accepted route anything before it is
  // an authorization violation, as in nats-server (expectConnect).
  if (!dialer_) parser_.set_connect_required(true);
  // Set again by on_start(); meanwhile it bounds a TLS handshake too (which has its own timer).
  handshake_deadline_ = Clock::now() + kHandshakeTimeout;
  // With cluster TLS the handshake comes first, before CONNECT and INFO, on both sides.
  if (const auto tls = cluster_.tls()) {
    enable_tls(tls->ctx, tls->timeout, dialer_ ? TlsHandshake::client_first : TlsHandshake::server_first,
               dialer_ ? cluster_.tls_peer_name(dialer_->url) : std::string());
  }
}

RouteConn::~RouteConn() = default;

void RouteConn::load_kind_limits(const Options& opts) {
  // Routes carry whatever the cluster's clients may publish; no payload limit of their own,
  // as in nats-server (its routes have no max payload).
  parser_.set_limits({opts.max_control_line, -1});
}

std::string RouteConn::describe() const { return ip_ + ":" + std::to_string(port_) + " - rid:" + std::to_string(cid_); }

bool RouteConn::on_start() {
  server_.log().info("{} - Route connection created", describe());
  handshake_deadline_ = connected_at_ + kHandshakeTimeout;
  schedule_first_ping(kFirstRoutePing);
  // The soliciting side speaks first with CONNECT; both sides send INFO.
  if (dialer_) send(cluster_.connect_line(dialer_.get()));
  send(cluster_.info_line());
  return true;
}

bool RouteConn::deliver(Subscription&, const Delivery& msg) { return deliver_routed(msg, {}); }

bool RouteConn::deliver_routed(const Delivery& msg, std::span<const std::string_view> queues) {
  if (refuses_messages()) return false;
  std::string_view payload = msg.payload;
  int64_t header_size = msg.header_size;
  if (header_size >= 0 && !headers_.load(std::memory_order_relaxed)) {
    payload = payload.substr(static_cast<std::size_t>(header_size));
    header_size = -1;
  }
  // A JetStream delivery's shown subject travels after an '@' in its reply, as nats-server
  // sends it; the far side's route_proto takes it apart again.
  std::string reply_with_subject;
  std::string_view reply = msg.reply;
  if (!msg.shown_subject.empty() && !reply.empty()) {
    reply_with_subject.append(reply).append("@").append(msg.shown_subject);
    reply = reply_with_subject;
  }
  std::size_t estimate = msg.account.size() + msg.subject.size() + reply.size() + payload.size() + 48;
  for (const auto& q : queues) estimate += q.size() + 1;
  return enqueue_encoded(estimate, payload.size(), [&](std::string& out) {
    protocol::append_route_msg(out, msg.account, msg.subject, reply, queues, header_size, payload);
  });
}

void RouteConn::drop(CloseReason reason) { request_close(reason); }

void RouteConn::on_closing() { remove_remote_subscriptions(); }

void RouteConn::on_closed() {
  const bool was_registered = registered_;
  registered_ = false;
  cluster_.route_closed(*this, was_registered);
}

bool RouteConn::on_kind_tick(Clock::time_point now) {
  if (!info_received_ && now >= handshake_deadline_) {
    server_.log().error("{} - Route handshake not completed in time, closing", describe());
    close(CloseReason::protocol_violation);
    return false;
  }
  return true;
}

void RouteConn::remove_remote_subscriptions() {
  if (remote_subs_.empty()) return;
  // By account, one batch each (a route may carry 100,000 subscriptions).
  std::map<Account*, std::vector<SubPtr>> by_account;
  for (auto& [key, sub] : remote_subs_) {
    sub->closed.store(true, std::memory_order_relaxed);
    const std::string_view k = key;
    Account* acc = server_.find_account_cached(k.substr(0, k.find(' ')));
    if (acc != nullptr) by_account[acc].push_back(sub);
  }
  for (auto& [acc, subs] : by_account) acc->remove_remote_batch(subs);
  std::lock_guard lock(info_mu_);
  remote_subs_.clear();
}

RouteInfo RouteConn::remote_info() const {
  std::lock_guard lock(info_mu_);
  return remote_;
}

RouteSnapshot RouteConn::snapshot(bool with_subs) const {
  RouteSnapshot s;
  fill_snapshot(s);
  s.did_solicit = solicited();
  s.is_configured = dialer_ && dialer_->retried_forever();
  std::lock_guard lock(info_mu_);
  s.remote_id = remote_.id;
  s.remote_name = remote_.name;
  s.num_subs = static_cast<uint32_t>(remote_subs_.size());
  if (with_subs) {
    for (const auto& [key, sub] : remote_subs_) {
      SubInfo si;
      const std::string_view k = key;
      si.account = std::string(k.substr(0, k.find(' ')));
      si.subject = sub->subject;
      si.queue = sub->queue;
      si.msgs = static_cast<int64_t>(sub->delivered.load(std::memory_order_relaxed));
      si.cid = cid_;
      s.subs.push_back(std::move(si));
    }
  }
  return s;
}

}  // namespace forest::broker

// The route protocol verbs of a RouteConn (parser callbacks), on the route's thread.
#include "account.hpp"
#include "cluster.hpp"
#include "protocol/encoder.hpp"
#include "protocol/errors.hpp"
#include "publish.hpp"
#include "route_conn.hpp"
#include "server.hpp"

namespace forest::broker {
namespace {

std::string remote_key(std::string_view account, std::string_view subject, std::string_view queue) {
  std::string key;
  key.reserve(account.size() + subject.size() + queue.size() + 2);
  key.append(account).append(" ").append(subject);
  if (!queue.empty()) key.append(" ").append(queue);
  return key;
}

}  // namespace

bool RouteConn::on_connect(std::string_view json) {
  if (trace_) trace_in("CONNECT", protocol::redact_connect_secrets(json));
  batch_active_ = true;
  if (dialer_ || connect_received_) return true;  // only the accepting side expects one, once
  const auto c = parse_route_connect(json);
  if (!c) {
    server_.log().error("{} - Route parser ERROR: malformed CONNECT", describe());
    close(CloseReason::protocol_violation);
    return false;
  }
  if (!c->lang.empty()) {
    // A client library dialed the cluster port (clients send "lang", routes never do).
    send_err("attempted to connect to route port");
    server_.log().error("{} - Route Error attempted to connect to route port", describe());
    close(CloseReason::wrong_port);
    return false;
  }
  if (!c->gateway.empty()) {
    const std::string text = "Rejecting connection from gateway \"" + c->gateway + "\" on the Route port";
    server_.log().error("{} - {}", describe(), text);
    send_err(text);
    close(CloseReason::wrong_port);
    return false;
  }
  if (cluster_.auth_required() && !cluster_.authorize(*c)) {
    server_.log().error("{} - Route authentication error", describe());
    send_err(protocol::err::kAuthorizationViolation);
    close(CloseReason::authentication_violation);
    return false;
  }
  if (c->cluster != cluster_.name() && !cluster_.accept_cluster_name(c->cluster, c->dynamic, *this)) {
    const std::string text = "Rejecting connection, cluster name \"" + c->cluster + "\" does not match \"" +
                             cluster_.name() + "\"";
    server_.log().error("{} - {}", describe(), text);
    send_err(text);
    close(CloseReason::cluster_name_conflict);
    return false;
  }
  connect_received_ = true;
  parser_.set_connect_required(false);
  headers_.store(c->headers, std::memory_order_relaxed);
  std::lock_guard lock(info_mu_);
  remote_.id = c->name;
  return true;
}

bool RouteConn::on_info(std::string_view json) {
  if (trace_) trace_in("INFO", json);
  batch_active_ = true;
  auto info = parse_route_info(json);
  if (!info) {
    server_.log().error("{} - Route parser ERROR: malformed INFO", describe());
    close(CloseReason::protocol_violation);
    return false;
  }
  if (!info_received_) return first_info(std::move(*info));
  RouteInfo before;
  {
    std::lock_guard lock(info_mu_);
    before = remote_;
  }
  if (info->id != before.id) {
    // About another server: the peer gossips a newcomer to us.
    cluster_.learn_route(*info);
    return true;
  }
  RouteInfo now = before;
  now.connect_urls = info->connect_urls;
  now.lame_duck = info->lame_duck;
  {
    std::lock_guard lock(info_mu_);
    remote_ = now;
  }
  cluster_.route_info_updated(*this, before, now);
  return true;
}

bool RouteConn::first_info(RouteInfo info) {
  if (!info.cluster.empty() && info.cluster != cluster_.name() &&
      !cluster_.accept_cluster_name(info.cluster, info.dynamic, *this)) {
    server_.log().error("{} - Rejecting route, cluster name \"{}\" does not match \"{}\"", describe(), info.cluster,
                        cluster_.name());
    close(CloseReason::cluster_name_conflict);
    return false;
  }
  info_received_ = true;
  headers_.store(info.headers, std::memory_order_relaxed);
  {
    std::lock_guard lock(info_mu_);
    remote_ = info;
  }
  switch (cluster_.register_route(self<RouteConn>(), info, ip_)) {
    case Cluster::Registration::registered:
      registered_ = true;
      server_.log().debug("{} - Registering remote route \"{}\"", describe(), info.id);
      return true;
    case Cluster::Registration::duplicate:
      server_.log().debug("{} - Detected duplicate remote route \"{}\"", describe(), info.id);
      close(CloseReason::duplicate_route);
      return false;
    case Cluster::Registration::self:
      // Our own URL among the routes (test suites and copied configs do that): quietly
      // dropped, and its dialer never tries it again.
      server_.log().debug("{} - Detected route to self, ignoring", describe());
      close(CloseReason::duplicate_route);
      return false;
    case Cluster::Registration::duplicate_name:
      server_.log().error("{} - Remote server has a duplicate name: \"{}\"", describe(), info.name);
      close(CloseReason::duplicate_server_name);
      return false;
  }
  return false;
}

bool RouteConn::on_message(const protocol::MessageArgs& args, std::string_view payload) {
  if (trace_) {
    std::string arg(args.account);
    arg.append(" ").append(args.subject);
    if (!args.reply.empty()) arg.append(" ").append(args.reply);
    for (const auto& q : args.queues) arg.append(" ").append(q);
    arg.append(" ").append(args.size_text);
    trace_in(args.header_size >= 0 ? "HMSG" : "RMSG", arg);
  }
  ++batch_in_msgs_;
  batch_in_bytes_ += payload.size();
  batch_active_ = true;
  if (!registered_) return true;  // nothing may come in before the handshake is done
  Account* acc = server_.find_account_cached(args.account);
  if (acc == nullptr) {
    server_.log().debug("{} - Unknown account \"{}\" for routed message on subject \"{}\"", describe(), args.account,
                        args.subject);
    return true;
  }
  Delivery d{args.subject, args.reply, args.header_size, payload, acc->name(), MessageOrigin::route, {}};
  // "$JS.ACK...@<subject>": a JetStream delivery whose clients see <subject> (nats-server's
  // remapped deliver subject).
  if (d.reply.starts_with("$JS.ACK.")) {
    if (const auto at = d.reply.rfind('@'); at != std::string_view::npos && at + 1 < d.reply.size()) {
      d.shown_subject = d.reply.substr(at + 1);
      d.reply = d.reply.substr(0, at);
    }
  }
  route_message(io_.cache_for(*acc), d, nullptr, args.queues);
  return true;
}

bool RouteConn::on_remote_sub(const protocol::RemoteSubArgs& args) {
  if (trace_) {
    std::string arg(args.account);
    arg.append(" ").append(args.subject);
    if (!args.queue.empty()) arg.append(" ").append(args.queue).append(" ").append(std::to_string(args.weight));
    trace_in(args.leaf ? "LS+" : "RS+", arg);
  }
  batch_active_ = true;
  if (!registered_) return true;
  Account* acc = server_.find_account_cached(args.account);
  if (acc == nullptr) {
    server_.log().debug("{} - Unknown account \"{}\" for remote subject \"{}\"", describe(), args.account, args.subject);
    return true;
  }
  std::string key = remote_key(args.account, args.subject, args.queue);
  const int32_t weight = args.weight > 0 ? args.weight : 1;
  if (auto it = remote_subs_.find(key); it != remote_subs_.end()) {
    // Known: for a queue group, the peer's member count changed.
    if (!args.queue.empty() && it->second->queue_weight != weight) acc->update_remote_weight(it->second, weight);
    return true;
  }
  auto sub = std::make_shared<Subscription>();
  sub->sink = self<RouteConn>();
  sub->subject.assign(args.subject);
  sub->queue.assign(args.queue);
  sub->sid = key;
  sub->origin = SubOrigin::route;
  sub->queue_weight = weight;
  sub->owner_cid = cid_;
  if (!acc->add_remote(sub)) {
    server_.log().error("{} - Could not insert remote subscription on \"{}\"", describe(), args.subject);
    return true;
  }
  std::lock_guard lock(info_mu_);
  remote_subs_.emplace(std::move(key), std::move(sub));
  return true;
}

bool RouteConn::on_remote_unsub(const protocol::RemoteSubArgs& args) {
  if (trace_) {
    std::string arg(args.account);
    arg.append(" ").append(args.subject);
    if (!args.queue.empty()) arg.append(" ").append(args.queue);
    trace_in(args.leaf ? "LS-" : "RS-", arg);
  }
  batch_active_ = true;
  auto it = remote_subs_.find(remote_key(args.account, args.subject, args.queue));
  if (it == remote_subs_.end()) return true;
  SubPtr sub = it->second;
  sub->closed.store(true, std::memory_order_relaxed);
  if (Account* acc = server_.find_account_cached(args.account)) acc->remove_remote(sub);
  std::lock_guard lock(info_mu_);
  remote_subs_.erase(it);
  return true;
}

bool RouteConn::on_sub(std::string_view subject, std::string_view, std::string_view) {
  // The pre-accounts route protocol (SUB on a route): not spoken since 2.0.
  server_.log().debug("{} - Ignoring SUB \"{}\" on a route (old route protocol)", describe(), subject);
  return true;
}

bool RouteConn::on_unsub(std::string_view, int64_t) { return true; }

bool RouteConn::on_ping() {
  if (trace_) trace_in("PING", {});
  note_ping_from_peer();
  send(protocol::kPong);
  return true;
}

bool RouteConn::on_pong() {
  if (trace_) trace_in("PONG", {});
  note_pong();
  return true;
}

bool RouteConn::on_err(std::string_view text) {
  server_.log().error("{} - Route Error {}", describe(), text);
  close(CloseReason::parse_error);
  return false;
}

}  // namespace forest::broker

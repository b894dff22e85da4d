// Client connection lifecycle: greeting, delivery (MSG/HMSG), closing, the auth timer and
// monitoring snapshots. The protocol verbs are in client_proto.cpp; the machinery they stand
// on in connection.cpp.
#include "client_conn.hpp"

#include "account.hpp"
#include "nkeys.hpp"
#include "permissions.hpp"
#include "protocol/encoder.hpp"
#include "protocol/errors.hpp"
#include "server.hpp"
#include "tls.hpp"

namespace forest::broker {
namespace {

// The first PING after CONNECT goes out early so the RTT is known (nats-server: 2 s for clients).
constexpr auto kFirstClientPing = std::chrono::seconds(2);

}  // namespace

ClientConn::ClientConn(Server& server, IoThread& io, tcp::socket socket, uint64_t cid)
    : Connection(server, io, std::move(socket), cid, ConnKind::client, protocol::PeerKind::client) {
  account_ = &server_.global_account();
  const auto opts = server_.options();
  load_kind_limits(*opts);
  if (auto tls = server_.client_tls()) {
    enable_tls(std::move(tls), std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts->tls.timeout())));
  }
}

ClientConn::~ClientConn() = default;

// The server's limits, lowered by the account's where it has its own (`limits {}`).
void ClientConn::load_kind_limits(const Options& opts) {
  const AccountLimits account = account_->limits();
  max_payload_ = combined_limit(opts.max_payload, account.max_payload);
  parser_.set_limits({opts.max_control_line, max_payload_});
  max_subs_ = combined_limit(opts.max_subscriptions, account.max_subscriptions);
  // A reload that lowered the maximum below what a client has: closed with the error, as by
  // nats-server (which closes one at the new maximum too; here exactly at it may stay).
  if (connect_received_ && !closing_ && max_subs_ >= 0 && static_cast<int64_t>(subs_.size()) > max_subs_) {
    server_.log().error("{} - maximum subscriptions exceeded after a reload ({} > {})", describe(), subs_.size(), max_subs_);
    send_err(protocol::err::kMaxSubscriptions);
    close(CloseReason::max_subscriptions_exceeded);
  }
}

bool ClientConn::on_start() {
  const auto opts = server_.options();
  server_.log().debug("{} - Client connection created", describe());
  if (server_.nonce_required()) nonce_ = nkeys::make_nonce();
  send(server_.info_line(cid_, ip_, nonce_));
  if (server_.num_clients() > static_cast<std::size_t>(opts->max_connections) && opts->max_connections > 0) {
    server_.log().error("{} - Client connection error: maximum connections exceeded", describe());
    send_err(protocol::err::kMaxConnections);
    close(CloseReason::max_connections_exceeded);
    return false;
  }
  // With TLS the authorization timer starts after the handshake, as in nats-server.
  if (!uses_tls()) require_auth(*opts, connected_at_);
  return true;
}

void ClientConn::on_secured() { require_auth(*server_.options(), Clock::now()); }

// As nats-server does at CONNECT: the time since the connection opened is a first RTT
// estimate, CONNECT counts as activity, and the first PING comes early (2 s, plus up to 20%)
// to measure the real RTT. Until CONNECT, pings follow the regular interval.
void ClientConn::start_pinging_after_connect() {
  const auto now = Clock::now();
  rtt_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now - connected_at_).count(), std::memory_order_relaxed);
  last_activity_steady_ = now;
  schedule_first_ping(kFirstClientPing);
}

bool ClientConn::deliver(Subscription& sub, const Delivery& msg) {
  // Closing, or already a slow consumer: takes nothing, so a queue group picks another member
  // and the publisher can be told there are no responders.
  if (refuses_messages()) return false;
  std::shared_ptr<ConnPermissions> perms;
  if (delivery_checks_.load(std::memory_order_relaxed)) {
    // A wildcard subscription that covers a denied subject does not get the denied messages.
    perms = delivery_perms_.load();
    if (perms && perms->blocks_delivery(msg.client_subject())) return false;
  }
  bool reached_max = false;
  if (!try_count_delivery(sub, reached_max)) return false;
  std::string_view payload = msg.payload;
  int64_t header_size = msg.header_size;
  if (header_size >= 0 && !headers_.load(std::memory_order_relaxed)) {
    // A receiver without header support gets the body only, as nats-server does.
    payload = payload.substr(static_cast<std::size_t>(header_size));
    header_size = -1;
  }
  const std::string_view subject = msg.client_subject();
  // allow_responses: the reply subject may be published to, before the client can see it.
  if (perms && !msg.reply.empty()) perms->note_reply(msg.reply);
  const std::size_t estimate = subject.size() + sub.sid.size() + msg.reply.size() + payload.size() + 48;
  const bool taken = enqueue_encoded(estimate, payload.size(), [&](std::string& out) {
    protocol::append_client_msg(out, subject, sub.sid, msg.reply, header_size, payload);
  });
  if (!taken) return false;
  if (reached_max) auto_unsubscribed(sub);
  return true;
}

void ClientConn::on_closing() { remove_all_subscriptions(); }

void ClientConn::on_closed() {
  if (counted_in_ != nullptr) counted_in_->remove_connection();
  ConnSnapshot snap = snapshot(false);
  snap.stop = std::chrono::system_clock::now();
  snap.reason = close_reason();
  server_.client_closed(*this, std::move(snap));
}

bool ClientConn::on_kind_tick(Clock::time_point now) {
  // Like nats-server, the auth timer stops once a CONNECT arrived (its check may take a while).
  if (auth_required_ && !connect_received_ && !pending_connect_ && now >= auth_deadline_) {
    send_err(protocol::err::kAuthenticationTimeout);
    close(CloseReason::authentication_timeout);
    return false;
  }
  return true;
}

void ClientConn::notify_lame_duck() {
  // info_line() carries "ldm":true from the moment lame-duck mode began.
  send_async_info();
}

void ClientConn::send_async_info() {
  asio::post(io_.context(), [self = self<ClientConn>()] {
    // Only clients that can take async INFO (protocol 1), once they sent CONNECT.
    if (self->closing_ || self->protocol_ < 1 || !self->connect_received_) return;
    self->send(self->server_.info_line(self->cid_, self->ip_, {}, self->max_payload_));
  });
}

ConnSnapshot ClientConn::snapshot(bool with_subs) const {
  ConnSnapshot s;
  fill_snapshot(s);
  std::lock_guard lock(info_mu_);
  s.name = name_;
  s.lang = lang_;
  s.version = version_;
  s.authorized_user = user_;
  s.given_user = given_user_.empty() ? given_nkey_ : given_user_;
  s.account = account_ != nullptr ? account_->name() : "";
  s.num_subs = static_cast<uint32_t>(subs_.size());
  if (with_subs) {
    for (const auto& [sid, sub] : subs_) {
      SubInfo si;
      si.account = s.account;
      si.subject = sub->subject;
      si.queue = sub->queue;
      si.sid = sub->sid;
      si.msgs = static_cast<int64_t>(sub->delivered.load(std::memory_order_relaxed));
      si.max = sub->max_msgs.load(std::memory_order_relaxed);
      si.cid = cid_;
      s.subs.push_back(std::move(si));
    }
  }
  return s;
}

}  // namespace forest::broker

// The client protocol verbs of a ClientConn (parser callbacks), on the connection's thread.
#include "account.hpp"
#include "client_conn.hpp"
#include "permissions.hpp"
#include "protocol/encoder.hpp"
#include "protocol/errors.hpp"
#include "publish.hpp"
#include "server.hpp"
#include "subject.hpp"

namespace forest::broker {

bool ClientConn::on_connect(std::string_view json) {
  if (trace_) trace_in("CONNECT", protocol::redact_connect_secrets(json));
  ConnectOptions f;
  f.verbose = verbose_;
  f.pedantic = pedantic_;
  f.echo = echo_;
  if (!parse_connect(json, f)) {
    server_.log().error("{} - Client parser ERROR: malformed CONNECT", describe());
    close(CloseReason::protocol_violation);
    return false;
  }
  const auto opts = server_.options();
  if (!opts->auth_required()) return finish_connect(f, std::nullopt);
  if (!server_.slow_authentication()) {
    return finish_connect(f, server_.authenticate(Credentials{f.user, f.pass, f.token, f.nkey, f.sig, nonce_, peer_certificate().get()}));
  }
  // bcrypt takes tens of milliseconds: check on the auth pool, and stop parsing this client
  // (nothing after CONNECT may run unauthorized) while other clients of this thread go on.
  pending_connect_ = std::make_unique<ConnectOptions>(std::move(f));
  parser_.pause();
  server_.authenticate_async(OwnedCredentials{pending_connect_->user, pending_connect_->pass, pending_connect_->token,
                                              pending_connect_->nkey, pending_connect_->sig, nonce_,
                                              peer_certificate()},
                             [self = self<ClientConn>()](std::optional<AuthResult> auth) {
                               asio::post(self->io_.context(), [self, auth] { self->on_async_auth(auth); });
                             });
  return true;
}

void ClientConn::on_async_auth(const std::optional<AuthResult>& auth) {
  if (closing_ || !pending_connect_) return;
  std::unique_ptr<ConnectOptions> f = std::move(pending_connect_);
  io_.begin_batch();
  const bool ok = finish_connect(*f, auth);
  io_.flush_pending();
  if (!ok || closing_) return;
  resume_input();  // what arrived after the CONNECT, then reading again
}

bool ClientConn::finish_connect(ConnectOptions& f, const std::optional<AuthResult>& auth) {
  const auto opts = server_.options();
  if (opts->auth_required() && !auth) {
    {
      // What the CONNECT said, for the auth error event (and /connz of closed connections).
      std::lock_guard lock(info_mu_);
      name_ = f.name;
      lang_ = f.lang;
      version_ = f.version;
      given_user_ = f.user;
      given_nkey_ = f.nkey;
    }
    server_.log().error("{} - authentication error", describe());
    send_err(protocol::err::kAuthorizationViolation);
    close(CloseReason::authentication_violation);
    return false;
  }
  if (f.protocol < 0 || f.protocol > 1) {
    send_err(protocol::err::kBadClientProtocol);
    close(CloseReason::bad_client_protocol_version);
    return false;
  }
  if (f.no_responders && !f.headers) {
    send_err(protocol::err::kNoRespondersRequiresHeaders);
    close(CloseReason::no_responders_requires_headers);
    return false;
  }
  verbose_ = f.verbose;
  pedantic_ = f.pedantic;
  echo_ = f.echo;
  no_responders_ = f.no_responders;
  protocol_ = static_cast<int>(f.protocol);
  connect_received_ = true;
  start_pinging_after_connect();
  parser_.set_connect_required(false);
  parser_.set_headers_allowed(f.headers);
  {
    std::lock_guard lock(info_mu_);
    name_ = std::move(f.name);
    lang_ = std::move(f.lang);
    version_ = std::move(f.version);
    given_user_ = f.user;
    given_pass_ = f.pass;
    given_token_ = f.token;
    given_nkey_ = f.nkey;
    given_sig_ = f.sig;
    if (auth) {
      user_ = auth->user;
      if (auth->account != nullptr && auth->account != account_ && subs_.empty()) account_ = auth->account;
    }
  }
  if (!count_in_account()) return false;
  // The account's limits, now that it is known. A max_payload other than the server's is told
  // in an INFO right after the first PONG, as nats-server does.
  load_kind_limits(*opts);
  info_after_first_pong_ = max_payload_ != opts->max_payload;
  set_permissions(auth ? auth->permissions : nullptr);
  headers_.store(f.headers, std::memory_order_relaxed);
  send_ok();
  server_.client_connected(*this);
  if (recheck_after_connect_) {
    // A reload arrived while these credentials were checked, maybe against the old settings.
    recheck_after_connect_ = false;
    recheck_credentials();
  }
  return true;
}

void ClientConn::recheck_authorization(bool credentials_changed) {
  asio::post(io_.context(), [self = self<ClientConn>(), credentials_changed] {
    if (self->closing_) return;
    if (self->pending_connect_) {
      // Its CONNECT is being checked on the auth pool: check again once that is done.
      self->recheck_after_connect_ = true;
      return;
    }
    if (!self->connect_received_) {
      // Not authenticated yet: the new rules apply to the CONNECT still to come (nats-server
      // closes such connections at once unless no_auth_user lets them in; we let them finish).
      self->require_auth(*self->server_.options(), self->connected_at_);
      return;
    }
    if (credentials_changed) self->recheck_credentials();
  });
}

// The credentials this connection authenticated with (none, if it connected while no
// authorization was required), against the settings now in force. On the owning thread.
void ClientConn::recheck_credentials() {
  if (!server_.options()->auth_required()) {
    set_permissions(nullptr);  // no users any more, so no permissions either
    return;
  }
  auto verdict = [self = self<ClientConn>()](const std::optional<AuthResult>& auth) {
    if (self->closing_) return;
    bool moved = false;
    {
      // The user it was authorized as: named in CONNECT, or no_auth_user, or its certificate's.
      std::lock_guard lock(self->info_mu_);
      const std::string& user = self->given_user_.empty() ? self->user_ : self->given_user_;
      moved = self->server_.options()->user_moved_or_gone(user, self->given_nkey_,
                                                          self->account_ ? self->account_->name() : "");
    }
    if (moved) {
      // As nats-server: its user is gone or in another account, so it is closed to reconnect
      // (no error, no auth error event); a user that stays but no longer passes is a violation.
      self->server_.log().info("{} - user removed or moved to another account by a reload, closing", self->describe());
      self->close(CloseReason::client_closed);
      return;
    }
    if (!auth) {
      self->server_.log().error("{} - authentication error: credentials no longer pass after a reload", self->describe());
      self->send_err(protocol::err::kAuthorizationViolation);
      self->close(CloseReason::authentication_violation);
      return;
    }
    if (auth->account != nullptr && auth->account != self->account_) {
      // As nats-server: a client whose user moved to another account is closed and reconnects.
      self->server_.log().info("{} - account changed by a reload, closing", self->describe());
      self->close(CloseReason::client_closed);
      return;
    }
    {
      std::lock_guard lock(self->info_mu_);
      self->user_ = auth->user;
    }
    const PermissionRules* now = self->perms_ ? &self->perms_->rules() : nullptr;
    const bool same = now == nullptr ? auth->permissions == nullptr
                                     : auth->permissions != nullptr && now->config() == auth->permissions->config();
    if (!same) {
      // New rules start afresh (no cached verdicts, no reply subjects), as nats-server's do.
      self->set_permissions(auth->permissions);
      self->recheck_subscriptions();
    }
  };
  OwnedCredentials given;
  {
    std::lock_guard lock(info_mu_);
    given = OwnedCredentials{given_user_, given_pass_, given_token_, given_nkey_, given_sig_, nonce_, peer_certificate()};
  }
  if (!server_.slow_authentication()) {
    verdict(server_.authenticate(given.view()));
    return;
  }
  server_.authenticate_async(std::move(given),
                             [self = self<ClientConn>(), verdict](std::optional<AuthResult> auth) {
                               asio::post(self->io_.context(), [verdict, auth] { verdict(auth); });
                             });
}

void ClientConn::close_with_error(std::string_view text, CloseReason reason) {
  asio::post(io_.context(), [self = self<ClientConn>(), text = std::string(text), reason] {
    if (self->closing_) return;
    self->send_err(text);
    self->close(reason);
  });
}

// Until CONNECT, with authorization required, the parser lets nothing but CONNECT through
// unless on_op_before_connect() adopts the no_auth_user; the timeout runs from `from`.
void ClientConn::require_auth(const Options& opts, Clock::time_point from) {
  const bool was_required = auth_required_;
  auth_required_ = opts.auth_required();
  parser_.set_connect_required(auth_required_);
  if (!auth_required_) return;
  // Required since a reload: the whole timeout from now, not from when the client connected.
  const auto start = was_required ? from : Clock::now();
  auth_deadline_ = start + std::chrono::duration_cast<Clock::duration>(opts.effective_auth_timeout());
}

// Counts this client toward its account's max_connections: once, and again when CONNECT moved
// it to another account. False when the account is full: then it is closed, as by nats-server.
bool ClientConn::count_in_account() {
  if (counted_in_ == account_) return true;
  if (counted_in_ != nullptr) counted_in_->remove_connection();
  counted_in_ = nullptr;
  if (!account_->try_add_connection()) {
    server_.log().error("{} - {}", describe(), protocol::err::kMaxAccountConnections);
    send_err(protocol::err::kMaxAccountConnections);
    close(CloseReason::max_account_connections_exceeded);
    return false;
  }
  counted_in_ = account_;
  return true;
}

bool ClientConn::adopt_no_auth_user() {
  if (connect_received_) return true;
  const auto opts = server_.options();
  if (!opts->auth_required()) return true;  // a reload turned authorization off meanwhile
  if (opts->no_auth_user.empty()) {
    server_.log().error("{} - authentication error: an operation before CONNECT", describe());
    return false;
  }
  const auto auth = server_.authenticate(Credentials{}, *opts);
  if (!auth) {
    server_.log().error("{} - authentication error: no_auth_user \"{}\" cannot be adopted under the current "
                        "authorization settings; refusing the client instead of serving it unauthenticated",
                        describe(), opts->no_auth_user);
    return false;
  }
  {
    std::lock_guard lock(info_mu_);
    user_ = auth->user;
    if (auth->account != nullptr && subs_.empty()) account_ = auth->account;
  }
  if (!count_in_account()) return false;
  connect_received_ = true;
  set_permissions(auth->permissions);
  load_kind_limits(*opts);
  return true;
}

void ClientConn::set_permissions(std::shared_ptr<const PermissionRules> rules) {
  perms_ = rules ? std::make_shared<ConnPermissions>(std::move(rules)) : nullptr;
  delivery_perms_.store(perms_);
  delivery_checks_.store(perms_ && (perms_->rules().has_subscribe_deny() || perms_->rules().responses()),
                         std::memory_order_relaxed);
}

void ClientConn::recheck_subscriptions() {
  if (!perms_) return;
  std::vector<SubPtr> refused;
  for (const auto& [sid, sub] : subs_) {
    // Also re-arms the deny filter for the wildcard subscriptions that stay.
    if (!perms_->may_subscribe(sub->subject, sub->queue)) refused.push_back(sub);
  }
  for (const SubPtr& sub : refused) {
    remove_subscription(sub->sid);
    send_err(removed_subscription_text(sub->subject, sub->sid));
    server_.log().info("Removed sub {} (sid {}) for {} - not authorized", go_quote(sub->subject), go_quote(sub->sid),
                       auth_user_text());
  }
}

std::string ClientConn::auth_user_text() const {
  std::lock_guard lock(info_mu_);
  return "User " + go_quote(user_.empty() ? std::string_view("N/A") : std::string_view(user_));
}

bool ClientConn::on_info(std::string_view) {
  // nats-server ignores INFO from clients.
  return true;
}

bool ClientConn::on_message(const protocol::MessageArgs& args, std::string_view payload) {
  if (trace_) {
    std::string arg(args.subject);
    if (!args.reply.empty()) arg.append(" ").append(args.reply);
    if (args.header_size >= 0) arg.append(" ").append(args.header_size_text);
    arg.append(" ").append(args.size_text);
    trace_in(args.header_size >= 0 ? "HPUB" : "PUB", arg);
  }
  ++batch_in_msgs_;
  batch_in_bytes_ += payload.size();
  batch_active_ = true;
  if (pedantic_ && !is_valid_literal_subject(args.subject)) send_err(protocol::err::kInvalidPublishSubject);
  if (perms_ && !perms_->may_publish(args.subject)) {
    // As nats-server: the message goes nowhere, no +OK, and the connection stays.
    server_.log().error("{} - Publish Violation - {}, Subject {}", describe(), auth_user_text(), go_quote(args.subject));
    send_err(publish_violation_text(args.subject));
    return true;
  }
  send_ok();
  publish(args.subject, args.reply, args.header_size, payload);
  return true;
}

void ClientConn::publish(std::string_view subject, std::string_view reply, int64_t header_size,
                         std::string_view payload) {
  const Delivery d{subject, reply, header_size, payload, account_->name(), MessageOrigin::local, {}, this};
  const bool delivered = route_message(io_.cache_for(*account_), d, echo_ ? nullptr : this);
  if (!delivered && no_responders_ && !reply.empty()) send_no_responders(reply);
}

void ClientConn::send_no_responders(std::string_view reply) {
  // Only to this client's own subscription on the reply subject (nats-server: subForReply).
  const MatchResultPtr& r = io_.cache_for(*account_).lookup(reply);
  for (const auto& sub : r->plain) {
    if (sub->sink.get() != static_cast<MessageSink*>(this)) continue;
    std::string out;
    out.append("HMSG ").append(reply).append(" ").append(sub->sid).append(" 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    send(out);
    return;
  }
}

bool ClientConn::on_sub(std::string_view subject, std::string_view queue, std::string_view sid) {
  if (trace_) {
    std::string arg(subject);
    if (!queue.empty()) arg.append(" ").append(queue);
    arg.append(" ").append(sid);
    trace_in("SUB", arg);
  }
  batch_active_ = true;
  if (perms_ && !perms_->may_subscribe(subject, queue)) {
    if (queue.empty()) {
      server_.log().error("{} - Subscription Violation - {}, Subject {}, SID {}", describe(), auth_user_text(),
                          go_quote(subject), sid);
    } else {
      server_.log().error("{} - Subscription Violation - {}, Subject {}, Queue: {}, SID {}", describe(),
                          auth_user_text(), go_quote(subject), go_quote(queue), sid);
    }
    send_err(subscription_violation_text(subject, queue));
    return true;
  }
  if (max_subs_ >= 0 && static_cast<int64_t>(subs_.size()) >= max_subs_) {
    server_.log().error("{} - maximum subscriptions exceeded", describe());
    send_err(protocol::err::kMaxSubscriptions);
    return true;
  }
  auto pos = subs_.lower_bound(sid);
  if (pos != subs_.end() && pos->first == sid) {
    if (!reached_delivery_limit(*pos->second)) {
      // nats-server keeps the existing subscription for a reused sid.
      send_ok();
      return true;
    }
    // Auto-unsubscribed already (its removal may still be on its way from a publisher's
    // thread): the sid is free again, as it is at once in nats-server.
    remove_subscription(std::string(sid));
    pos = subs_.lower_bound(sid);
  }
  auto sub = std::make_shared<Subscription>();
  sub->sink = self<ClientConn>();
  sub->subject.assign(subject);
  sub->queue.assign(queue);
  sub->sid.assign(sid);
  sub->owner_cid = cid_;
  if (!account_->subscribe(sub)) {
    send_err(protocol::err::kInvalidSubject);
    return true;
  }
  {
    std::lock_guard lock(info_mu_);
    subs_.emplace_hint(pos, sid, std::move(sub));
  }
  send_ok();
  return true;
}

bool ClientConn::on_unsub(std::string_view sid, int64_t max) {
  if (trace_) trace_in("UNSUB", max >= 0 ? std::string(sid) + " " + std::to_string(max) : std::string(sid));
  batch_active_ = true;
  auto it = subs_.find(sid);
  if (it != subs_.end()) {
    // With a maximum not reached yet the subscription stays until the delivery that reaches
    // it; set_delivery_limit() closes the race with publishers on other threads.
    const bool remove_now = max <= 0 || set_delivery_limit(*it->second, max);
    if (remove_now) remove_subscription(it->first);
  }
  send_ok();
  return true;
}

void ClientConn::remove_subscription(const std::string& sid) {
  auto it = subs_.find(sid);
  if (it == subs_.end()) return;
  std::shared_ptr<Subscription> sub = it->second;
  sub->closed.store(true, std::memory_order_relaxed);
  account_->unsubscribe(sub);
  std::lock_guard lock(info_mu_);
  subs_.erase(it);
}

void ClientConn::remove_all_subscriptions() {
  if (subs_.empty()) return;
  // The connection takes no more messages already (refuses_messages_), so its subscriptions
  // are inert; they leave the subject index in slices, one batch per turn of the event loop,
  // so that a connection with 200,000 subscriptions does not stall its thread's other
  // clients while it goes.
  auto doomed = std::make_shared<SubsBySid>();
  {
    std::lock_guard lock(info_mu_);
    doomed->swap(subs_);
  }
  remove_subscription_slice(std::move(doomed));
}

void ClientConn::remove_subscription_slice(std::shared_ptr<SubsBySid> doomed) {
  constexpr std::size_t kSlice = 4096;
  std::vector<SubPtr> slice;
  slice.reserve(std::min(kSlice, doomed->size()));
  while (!doomed->empty() && slice.size() < kSlice) {
    auto node = doomed->extract(doomed->begin());
    node.mapped()->closed.store(true, std::memory_order_relaxed);
    slice.push_back(std::move(node.mapped()));
  }
  account_->unsubscribe_batch(slice);
  if (doomed->empty()) return;
  asio::post(io_.context(), [self = self<ClientConn>(), doomed = std::move(doomed)]() mutable {
    self->remove_subscription_slice(std::move(doomed));
  });
}

void ClientConn::auto_unsubscribed(const Subscription& sub) {
  // By id, not address: by the time this runs the subscription may be gone and a new one with
  // the same sid may live at the same address.
  asio::post(io_.context(), [self = self<ClientConn>(), sid = sub.sid, id = sub.id] {
    auto it = self->subs_.find(sid);
    if (it != self->subs_.end() && it->second->id == id) self->remove_subscription(sid);
  });
}

bool ClientConn::on_ping() {
  if (trace_) trace_in("PING", {});
  note_ping_from_peer();
  send(protocol::kPong);
  if (info_after_first_pong_ && connect_received_) {
    info_after_first_pong_ = false;
    if (protocol_ >= 1) send(server_.info_line(cid_, ip_, {}, max_payload_));
  }
  return true;
}

bool ClientConn::on_pong() {
  if (trace_) trace_in("PONG", {});
  note_pong();
  return true;
}

bool ClientConn::on_ok() { return true; }

bool ClientConn::on_err(std::string_view text) {
  // A client sending -ERR is a protocol error for nats-server: it logs and closes.
  server_.log().error("{} - Client Error {}", describe(), text);
  close(CloseReason::parse_error);
  return false;
}

}  // namespace forest::broker

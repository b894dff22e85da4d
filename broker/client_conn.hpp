// A client connection: the client protocol's verbs (CONNECT and authorization, PUB/HPUB,
// SUB/UNSUB with auto-unsubscribe, no-responders) and MSG/HMSG delivery, on the shared
// connection machinery (connection.hpp), which says who touches it from which thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "client_endpoint.hpp"
#include "connect_options.hpp"
#include "connection.hpp"

namespace forest::broker {

class Account;
class ConnPermissions;
class PermissionRules;
class Server;
struct AuthResult;
struct Options;

// A tree, not a hash map: a client with 200,000 subscriptions must not stall its thread for a
// rehash (measured: one insert into a 131,072-entry unordered_map takes ~30 ms).
using SubsBySid = std::map<std::string, SubPtr, std::less<>>;

class ClientConn final : public Connection, public ClientEndpoint {
 public:
  ClientConn(Server& server, IoThread& io, tcp::socket socket, uint64_t cid);
  ~ClientConn() override;

  // From any thread: tells the client (if it can take async INFO) that we are in lame-duck mode.
  void notify_lame_duck() override;
  // From any thread: an INFO update (cluster membership changed the connect URLs).
  void send_async_info() override;
  // From any thread, after a reload changed authorization: with `credentials_changed`, close
  // if our credentials no longer pass; before CONNECT, take on the new requirement and timeout.
  void recheck_authorization(bool credentials_changed) override;
  // From any thread: sends `-ERR '<text>'` and closes.
  void close_with_error(std::string_view text, CloseReason reason) override;

  [[nodiscard]] ConnSnapshot snapshot(bool with_subs) const override;

  // ClientEndpoint (the connection machinery does the work)
  [[nodiscard]] uint64_t client_id() const override { return cid(); }
  [[nodiscard]] std::chrono::nanoseconds rtt() const override {
    return std::chrono::nanoseconds(rtt_ns_.load(std::memory_order_relaxed));
  }
  void request_close(CloseReason reason) override { Connection::request_close(reason); }
  void apply_options() override { Connection::apply_options(); }

  // MessageSink
  bool deliver(Subscription& sub, const Delivery& msg) override;

 private:
  // Connection hooks
  bool on_start() override;
  void on_secured() override;
  void on_closing() override;
  void on_closed() override;
  bool on_kind_tick(Clock::time_point now) override;
  void load_kind_limits(const Options& opts) override;
  [[nodiscard]] const char* kind_label() const override { return "Client"; }

  // ParserHandler
  bool on_connect(std::string_view json) override;
  bool on_info(std::string_view json) override;
  bool on_message(const protocol::MessageArgs& args, std::string_view payload) override;
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) override;
  bool on_unsub(std::string_view sid, int64_t max) override;
  bool on_ping() override;
  bool on_pong() override;
  bool on_ok() override;
  bool on_err(std::string_view text) override;
  bool on_op_before_connect() override { return adopt_no_auth_user(); }

  // The rest of CONNECT once its credentials were checked; false when it closed.
  bool finish_connect(ConnectOptions& f, const std::optional<AuthResult>& auth);
  void on_async_auth(const std::optional<AuthResult>& auth);
  void send_ok() { if (verbose_) send("+OK\r\n"); }
  void remove_subscription(const std::string& sid);
  void auto_unsubscribed(const Subscription& sub);  // any thread: the max was reached
  void remove_all_subscriptions();
  void remove_subscription_slice(std::shared_ptr<SubsBySid> doomed);
  void publish(std::string_view subject, std::string_view reply, int64_t header_size, std::string_view payload);
  void send_no_responders(std::string_view reply);
  // The no_auth_user for an operation before CONNECT; false refuses the operation.
  bool adopt_no_auth_user();
  // Until CONNECT: whether it is required (or no_auth_user), and by when.
  void require_auth(const Options& opts, std::chrono::steady_clock::time_point from);
  void recheck_credentials();
  bool count_in_account();
  void start_pinging_after_connect();
  // Permissions (owning thread): those of the user it authenticated as; null: none.
  void set_permissions(std::shared_ptr<const PermissionRules> rules);
  // After a reload changed them: subscriptions no longer allowed go, as in nats-server.
  void recheck_subscriptions();
  [[nodiscard]] std::string auth_user_text() const;  // nats-server's `User "a"` in logs

  Account* account_ = nullptr;
  std::unique_ptr<ConnectOptions> pending_connect_;

  // CONNECT options (owning thread)
  bool connect_received_ = false;
  bool verbose_ = true;   // nats-server's defaults before a CONNECT
  bool pedantic_ = true;
  bool echo_ = true;
  std::atomic<bool> headers_{false};  // read by publishers on any thread
  bool no_responders_ = false;
  int protocol_ = 0;
  bool auth_required_ = false;
  bool recheck_after_connect_ = false;  // a reload came while our CONNECT was being checked
  Clock::time_point auth_deadline_{};
  int64_t max_subs_ = -1;     // -1: no limit
  int64_t max_payload_ = -1;  // -1: no limit
  bool info_after_first_pong_ = false;
  Account* counted_in_ = nullptr;  // the account this client counts toward (after CONNECT)

  // Permissions: perms_ on the owning thread (PUB, SUB); delivery_perms_ for publishers'
  // threads, looked at only when delivery_checks_ says they can refuse or track something.
  std::shared_ptr<ConnPermissions> perms_;
  std::atomic<std::shared_ptr<ConnPermissions>> delivery_perms_;
  std::atomic<bool> delivery_checks_{false};

  // Subscriptions by sid (owning thread writes; monitor reads under info_mu_).
  SubsBySid subs_;

  // Monitoring data (written by the owning thread under info_mu_)
  std::string name_, lang_, version_, user_;
  std::string given_user_, given_pass_, given_token_;  // CONNECT credentials, for reloads
  std::string given_nkey_, given_sig_;
  std::string nonce_;  // what our INFO carried for an nkey user to sign (nkey users configured)
};

}  // namespace forest::broker

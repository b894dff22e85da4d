// The system account's server requests, as nats-server 2.9 answers them: a user of the system
// account (`system_account`) asks every server of the cluster at once, or one by its id.
//
//   $SYS.REQ.SERVER.PING                 statsz of every server ({"server":{..},"statsz":{..}})
//   $SYS.REQ.SERVER.PING.<KIND>          <KIND> of every server ({"server":{..},"data":{..}})
//   $SYS.REQ.SERVER.<server id>.<KIND>   the same from one server
//   $SYS.REQ.ACCOUNT.<account>.<AKIND>   <AKIND> of every server, for one account only
//   $SYS.REQ.ACCOUNT.<account>.STATZ     the account's statistics (AccountStatz), from the
//                                        servers where it has connections; PING: all accounts
//   $SYS.REQ.ACCOUNT.<account>.CONNS     the same as an account_connections event
//   $SYS.REQ.ACCOUNT.<account>.INFO      the account's AccountInfo (as /accountz?acc=)
//   $SYS.REQ.ACCOUNT.<account>.JSZ       the account's JetStream AccountDetail
//
// KIND is STATSZ, VARZ, CONNZ, SUBSZ, ROUTEZ, JSZ, HEALTHZ, LEAFZ, GATEWAYZ or ACCOUNTZ, AKIND CONNZ,
// SUBSZ or LEAFZ; the data is what the monitoring endpoint of that name returns. A request body may filter servers (server_name, cluster,
// host: substrings; domain: equal) and carry the endpoint's options (nats-server's JSON names,
// e.g. {"subscriptions":true} for CONNZ); a body that is not such JSON gets a 400 error reply.
//
// The subscriptions are ordinary ones in the system account, so routes carry them and one
// request reaches every server (nats-server's too). Handlers run on the server's service
// thread. The account events $SYS.ACCOUNT.<account>.CONNECT and .DISCONNECT go out too, and
// $SYS.SERVER.<id>.CLIENT.AUTH.ERR for each client that fails authentication, and this
// server's statsz on $SYS.SERVER.<id>.STATSZ: 250 ms after start, then at twice the interval
// each time up to every 30 s (nats-server's heartbeat).
// An account's connections going up or down send its account_connections event (as .CONNS
// answers) on $SYS.ACCOUNT.<account>.SERVER.CONNS and nats-server's older
// $SYS.SERVER.ACCOUNT.<account>.CONNS, and again every 30 s while it has connections; a
// client leaving $G sends none, as in nats-server. Unlike nats-server, changes within 100 ms
// of the last event go out together after that interval, in one event per account with the
// state then: the event sums the account's live clients' traffic (account_statz.hpp), and one
// sum per connect would make a connect storm quadratic.
// Every other account reaches its own CONNZ and STATZ through the system imports
// (broker/system_imports.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "asio.hpp"
#include "conn_info.hpp"
#include "internal_service.hpp"
#include "subscription.hpp"

namespace forest::broker {

class Account;
struct AccountStat;
class InternalClient;
class Monitor;
class Server;
struct InternalMessage;

class SystemService final : public InternalService {
 public:
  SystemService(Server& server, Account& account);
  ~SystemService() override;

  std::expected<void, std::string> start() override;
  void stop() override;

  // nats-server's account events: a client of a named account (not $G) finished its CONNECT,
  // or closed. Published into the system account on $SYS.ACCOUNT.<account>.CONNECT and
  // .DISCONNECT (with its traffic and the reason). From any thread: the snapshot is taken by
  // the caller, the event written and published on the service thread.
  void client_connected(const ConnSnapshot& conn);
  void client_disconnected(const ConnSnapshot& conn);
  // nats-server's auth error event: a client closed for failing authentication, of any account
  // ($G before it authenticated), on $SYS.SERVER.<id>.CLIENT.AUTH.ERR, as a client_disconnect.
  void auth_failed(const ConnSnapshot& conn);
  // A client was counted into or out of `account` (from any thread).
  void account_conns_changed(const std::string& account);

 private:
  // `user`: the client's user as the event shows it (by default the authorized one).
  void publish_event(const std::string& subject, const std::string& type, const ConnSnapshot& conn, bool closed,
                     const std::string* user = nullptr);
  void answer(const InternalMessage& m, const std::string& kind);
  void answer_account(const InternalMessage& m, const std::string& kind);
  void answer_account_statz(const InternalMessage& m);
  void answer_account_conns(const InternalMessage& m);
  void answer_account_info(const InternalMessage& m);
  void answer_account_jsz(const InternalMessage& m);
  // nats-server's ServerInfo of this server (the "server" object of every reply).
  [[nodiscard]] std::string server_info_json();
  [[nodiscard]] std::string statsz_json();
  void reply(const InternalMessage& m, const std::string& json);
  // The statsz heartbeat (service thread).
  void schedule_statsz();
  void send_statsz();

  // The account_connections events (service thread).
  void schedule_conns_events();
  void send_conns_events();
  void schedule_conns_heartbeat();
  [[nodiscard]] std::string account_conns_json(const AccountStat& stat);

  static constexpr std::chrono::milliseconds kConnsSpacing{100};
  static constexpr std::chrono::milliseconds kConnsHeartbeat{30'000};
  static constexpr std::chrono::milliseconds kStatszFirst{250};
  static constexpr std::chrono::milliseconds kStatszMax{30'000};

  Server& server_;
  Account& account_;
  std::shared_ptr<InternalClient> client_;
  std::unique_ptr<Monitor> monitor_;  // builds the endpoints' JSON; never listens
  std::vector<SubPtr> subs_;
  std::atomic<bool> running_{false};  // between start() and stop(): events are published
  uint64_t seq_ = 0;  // service thread
  std::unique_ptr<asio::steady_timer> statsz_timer_;  // service thread
  std::chrono::milliseconds statsz_interval_ = kStatszFirst;

  // Accounts whose connections changed since the last events (any thread, under dirty_mu_).
  std::mutex dirty_mu_;
  std::set<std::string> dirty_accounts_;
  bool conns_scheduled_ = false;  // a send_conns_events() is posted or waits for its timer
  // Service thread: when the last events went out, and each account's next heartbeat.
  std::chrono::steady_clock::time_point last_conns_events_{};
  std::map<std::string, std::chrono::steady_clock::time_point> conns_heartbeat_due_;
  std::unique_ptr<asio::steady_timer> conns_timer_, conns_heartbeat_timer_;
  double last_cpu_seconds_ = 0;
  std::chrono::steady_clock::time_point last_cpu_sample_{};
};

}  // namespace forest::broker

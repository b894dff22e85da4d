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
//
// KIND is STATSZ, VARZ, CONNZ, SUBSZ, ROUTEZ, JSZ, HEALTHZ, LEAFZ or GATEWAYZ, AKIND CONNZ,
// SUBSZ or LEAFZ; the data is what the monitoring endpoint of that name returns. A request body may filter servers (server_name, cluster,
// host: substrings; domain: equal) and carry the endpoint's options (nats-server's JSON names,
// e.g. {"subscriptions":true} for CONNZ); a body that is not such JSON gets a 400 error reply.
//
// The subscriptions are ordinary ones in the system account, so routes carry them and one
// request reaches every server (nats-server's too). Handlers run on the server's service
// thread. The account events $SYS.ACCOUNT.<account>.CONNECT and .DISCONNECT go out too, and
// $SYS.SERVER.<id>.CLIENT.AUTH.ERR for each client that fails authentication.
// Not here: the account-scoped INFO and JSZ, the imports through which nats-server lets every
// account ask for its own CONNZ and STATZ, the other events (the account connection counts
// sent on every connect and close, periodic STATSZ), ACCOUNTZ.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conn_info.hpp"
#include "internal_service.hpp"
#include "subscription.hpp"

namespace forest::broker {

class Account;
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

 private:
  // `user`: the client's user as the event shows it (by default the authorized one).
  void publish_event(const std::string& subject, const std::string& type, const ConnSnapshot& conn, bool closed,
                     const std::string* user = nullptr);
  void answer(const InternalMessage& m, const std::string& kind);
  void answer_account(const InternalMessage& m, const std::string& kind);
  void answer_account_statz(const InternalMessage& m);
  void answer_account_conns(const InternalMessage& m);
  // nats-server's ServerInfo of this server (the "server" object of every reply).
  [[nodiscard]] std::string server_info_json();
  [[nodiscard]] std::string statsz_json();
  void reply(const InternalMessage& m, const std::string& json);

  Server& server_;
  Account& account_;
  std::shared_ptr<InternalClient> client_;
  std::unique_ptr<Monitor> monitor_;  // builds the endpoints' JSON; never listens
  std::vector<SubPtr> subs_;
  std::atomic<bool> running_{false};  // between start() and stop(): events are published
  uint64_t seq_ = 0;  // service thread
  double last_cpu_seconds_ = 0;
  std::chrono::steady_clock::time_point last_cpu_sample_{};
};

}  // namespace forest::broker

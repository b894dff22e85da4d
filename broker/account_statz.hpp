// nats-server's AccountStat: an account's client connections and what its clients sent and
// received, as /accstatz, $SYS.REQ.ACCOUNT.<account>.STATZ and .CONNS report it.
//
// The traffic is the account's closed clients' (counted into the account when each closes)
// plus its live clients' own counters, summed when asked: nothing is counted per message for
// it. "received" is what its clients published; "sent" what was delivered to them (nats-server
// counts deliveries by the publisher's account: the two differ only across imports).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conn_info.hpp"

namespace forest::broker {

class Account;
class JsonWriter;
class Server;

struct AccountStat {
  std::string account;
  int64_t conns = 0;
  TrafficCounts traffic;
  int64_t slow_consumers = 0;
};

// One pass over the server's clients for all of `accounts`, in their order.
[[nodiscard]] std::vector<AccountStat> account_stats(Server& server, const std::vector<Account*>& accounts);

// AccountStat's members in Go's order (acc, conns, leafnodes, total_conns, sent, received,
// slow_consumers), written into the object the caller has open.
void write_account_stat_fields(JsonWriter& w, const AccountStat& s);

// nats-server's AccountStatz: {"server_id", "now", "account_statz": [...]}.
[[nodiscard]] std::string account_statz_json(Server& server, const std::vector<AccountStat>& stats);

}  // namespace forest::broker

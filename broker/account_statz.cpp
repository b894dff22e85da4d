#include "account_statz.hpp"

#include <chrono>
#include <unordered_map>

#include "account.hpp"
#include "client_endpoint.hpp"
#include "json_writer.hpp"
#include "server.hpp"
#include "time_text.hpp"

namespace forest::broker {

std::vector<AccountStat> account_stats(Server& server, const std::vector<Account*>& accounts) {
  std::vector<AccountStat> out;
  out.reserve(accounts.size());
  std::unordered_map<std::string, std::size_t> at;  // the first entry of each account
  // The closed clients' traffic and the live list under one lock (Server::clients_and).
  const auto clients = server.clients_and([&] {
    for (Account* a : accounts) {
      AccountStat s;
      s.account = a->name();
      s.conns = a->num_connections();
      s.traffic = a->closed_traffic();
      s.slow_consumers = a->slow_consumers();
      at.emplace(s.account, out.size());
      out.push_back(std::move(s));
    }
  });
  for (const auto& client : clients) {
    const ConnSnapshot c = client->snapshot(false);
    const auto it = at.find(c.account.empty() ? std::string(kGlobalAccount) : c.account);
    if (it == at.end()) continue;
    TrafficCounts& t = out[it->second].traffic;
    t.in_msgs += c.in_msgs;
    t.in_bytes += c.in_bytes;
    t.out_msgs += c.out_msgs;
    t.out_bytes += c.out_bytes;
  }
  // An account asked for twice is listed twice, the same (as nats-server does).
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t first = at.at(out[i].account);
    if (first != i) out[i] = out[first];
  }
  return out;
}

void write_account_stat_fields(JsonWriter& w, const AccountStat& s) {
  w.field("acc", s.account);
  w.field("conns", s.conns);
  w.field("leafnodes", 0);  // no leaf nodes here
  w.field("total_conns", s.conns);
  w.key("sent").begin_object().field("msgs", s.traffic.out_msgs).field("bytes", s.traffic.out_bytes).end_object();
  w.key("received").begin_object().field("msgs", s.traffic.in_msgs).field("bytes", s.traffic.in_bytes).end_object();
  w.field("slow_consumers", s.slow_consumers);
}

std::string account_statz_json(Server& server, const std::vector<AccountStat>& stats) {
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server.server_id());
  w.field("now", rfc3339(std::chrono::system_clock::now()));
  w.key("account_statz").begin_array();
  for (const AccountStat& s : stats) {
    w.begin_object();
    write_account_stat_fields(w, s);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.take();
}

}  // namespace forest::broker

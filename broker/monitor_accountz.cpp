// /accountz, as nats-server 2.9.10's HandleAccountz answers it: without "acc" the names of
// every account, with it that account's AccountInfo (broker/account_info.hpp) as
// "account_detail"; an account that does not exist is a 400 with nats-server's text.
#include "account.hpp"
#include "account_info.hpp"
#include "json_writer.hpp"
#include "monitor.hpp"
#include "monitor_query.hpp"
#include "server.hpp"
#include "time_text.hpp"

namespace forest::broker {

HttpReply Monitor::accountz(const QueryParams& q) {
  const std::string account = q.get("acc");
  const auto o = server_.options();
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("now", rfc3339(std::chrono::system_clock::now()));
  if (const std::string sys = o->effective_system_account(); !sys.empty()) w.field("system_account", sys);
  if (account.empty()) {
    w.key("accounts").begin_array();
    for (Account* a : server_.accounts()) w.value(a->name());
    w.end_array();
  } else {
    auto info = account_info_json(server_, account);
    if (!info) return HttpReply{400, "text/plain; charset=utf-8", info.error()};
    w.key("account_detail").raw(*info);
  }
  w.end_object();
  return HttpReply{200, "application/json", w.take()};
}

}  // namespace forest::broker

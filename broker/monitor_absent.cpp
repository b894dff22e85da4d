// /leafz and /gatewayz, as nats-server 2.9.10 answers them on a server with no leaf nodes and
// no gateways, which forest-server has neither of: no connections to list. The options are
// still decoded as Go decodes them, so a bad value gets the same 400.
#include "json_writer.hpp"
#include "monitor.hpp"
#include "monitor_query.hpp"
#include "server.hpp"
#include "time_text.hpp"

namespace forest::broker {
namespace {

HttpReply bad_bool(std::string text) { return HttpReply{400, "text/plain; charset=utf-8", std::move(text)}; }

}  // namespace

HttpReply Monitor::leafz(const QueryParams& q) {
  // nats-server's HandleLeafz: subs (a bool) and acc; the account filters an empty list.
  if (auto subs = q.get_bool("subs"); !subs) return bad_bool(subs.error());
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("now", rfc3339(std::chrono::system_clock::now()));
  w.field("leafnodes", 0);
  w.key("leafs").raw("null");  // Go's nil slice
  w.end_object();
  return HttpReply{200, "application/json", w.take()};
}

HttpReply Monitor::gatewayz(const QueryParams& q) {
  // nats-server's HandleGatewayz: accs (a bool), gw_name and acc_name. Without gateways it
  // answers with its id, the time and two empty maps (no name, host or port).
  if (auto accs = q.get_bool("accs"); !accs) return bad_bool(accs.error());
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("now", rfc3339(std::chrono::system_clock::now()));
  w.key("outbound_gateways").begin_object().end_object();
  w.key("inbound_gateways").begin_object().end_object();
  w.end_object();
  return HttpReply{200, "application/json", w.take()};
}

}  // namespace forest::broker

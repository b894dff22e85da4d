#include "client_info.hpp"

#include "json_writer.hpp"
#include "time_text.hpp"

namespace forest::broker {

ClientInfo client_info(const ConnSnapshot& conn) {
  ClientInfo c;
  c.start = conn.start;
  // An in-process connection has no address (nats-server leaves host out for a pipe).
  if (conn.ip != "pipe") c.host = conn.ip;
  c.id = conn.cid;
  c.account = conn.account;
  c.user = conn.authorized_user;
  c.name = conn.name;
  c.lang = conn.lang;
  c.version = conn.version;
  c.kind = "Client";
  c.client_type = "nats";
  return c;
}

void write_client_info(JsonWriter& w, const ClientInfo& c) {
  w.begin_object();
  if (c.start) w.field("start", rfc3339(*c.start));
  if (!c.host.empty()) w.field("host", c.host);
  if (c.id != 0) w.field("id", c.id);
  w.field("acc", c.account);
  if (!c.user.empty()) w.field("user", c.user);
  if (!c.name.empty()) w.field("name", c.name);
  if (!c.lang.empty()) w.field("lang", c.lang);
  if (!c.version.empty()) w.field("ver", c.version);
  if (c.rtt.count() != 0) w.field("rtt", static_cast<int64_t>(c.rtt.count()));
  if (!c.server.empty()) w.field("server", c.server);
  if (!c.cluster.empty()) w.field("cluster", c.cluster);
  if (c.stop) w.field("stop", rfc3339(*c.stop));
  if (!c.kind.empty()) w.field("kind", c.kind);
  if (!c.client_type.empty()) w.field("client_type", c.client_type);
  w.end_object();
}

}  // namespace forest::broker

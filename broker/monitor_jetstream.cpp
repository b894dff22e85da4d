// /jsz and /healthz, as nats-server 2.9.10's HandleJsz and HandleHealthz answer them. The
// JetStream numbers come from the service (JetStreamMonitor, a snapshot taken on the service
// thread); here are the query decoding, the disabled reply and the health status.
#include "jetstream_monitor.hpp"
#include "json_writer.hpp"
#include "monitor.hpp"
#include "monitor_query.hpp"
#include "server.hpp"
#include "time_text.hpp"

namespace forest::broker {
namespace {

// How long /jsz waits for the service thread (a snapshot is a few map copies; a thread that
// does not answer in this time is stuck, and the monitor thread must not be).
constexpr std::chrono::seconds kJszTimeout{5};

// nats-server writes a query it cannot decode as plain text, with Go's sniffed content type.
HttpReply bad_param(std::string text) { return HttpReply{400, "text/plain; charset=utf-8", std::move(text)}; }

// JSInfo of a server without JetStream: "disabled", the zero config and zero stats.
std::string disabled_jsz(Server& server) {
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server.server_id());
  w.field("now", rfc3339(std::chrono::system_clock::now()));
  w.field("disabled", true);
  w.key("config").begin_object().field("max_memory", 0).field("max_storage", 0).end_object();
  w.field("memory", 0).field("storage", 0).field("reserved_memory", 0).field("reserved_storage", 0);
  w.field("accounts", 0).field("ha_assets", 0);
  w.key("api").begin_object().field("total", 0).field("errors", 0).end_object();
  w.field("streams", 0).field("consumers", 0).field("messages", 0).field("bytes", 0);
  w.end_object();
  return w.take();
}

}  // namespace

HttpReply Monitor::jsz(const QueryParams& q) {
  // Decoded in nats-server's order: the first bad value is the one reported.
  JszOptions o;
  for (auto [key, out] : {std::pair<const char*, bool*>{"accounts", &o.accounts}, {"streams", &o.streams},
                          {"consumers", &o.consumers}, {"config", &o.config}}) {
    auto b = q.get_bool(key);
    if (!b) return bad_param(b.error());
    *out = *b;
  }
  const auto offset = q.get_int("offset");
  if (!offset) return bad_param(offset.error());
  const auto limit = q.get_int("limit");
  if (!limit) return bad_param(limit.error());
  const auto leader = q.get_bool("leader-only");
  if (!leader) return bad_param(leader.error());
  o.offset = *offset;
  o.limit = *limit;
  o.leader_only = *leader;
  o.account = q.get("acc");

  JetStreamMonitor* js = server_.jetstream_monitor();
  if (js == nullptr || !js->enabled()) {
    // A server without JetStream is no leader (nats-server's errSkipZreq text).
    if (o.leader_only) return bad_param("filtered response: not leader");
    return HttpReply{200, "application/json", disabled_jsz(server_)};
  }
  auto body = js->jsz(o, kJszTimeout);
  if (!body) return HttpReply{body.error().status, "text/plain; charset=utf-8", body.error().text};
  return HttpReply{200, "application/json", std::move(*body)};
}

HttpReply Monitor::healthz(const QueryParams& q) {
  // "js-enabled" is nats-server's deprecated spelling of "js-enabled-only".
  bool js_check = false;
  for (const char* key : {"js-enabled", "js-enabled-only", "js-server-only"}) {
    auto b = q.get_bool(key);
    if (!b) return bad_param(b.error());
    js_check = js_check || *b;
  }
  // A single server has no meta group or replicated assets to be current with, so once
  // JetStream serves every check passes (nats-server's healthz in single-server mode). While
  // JetStream starts (the monitor listens before it is up), the JetStream checks report it as
  // nats-server does a JetStream that is not enabled; the plain check stays "ok".
  if (js_check && server_.options()->jetstream.enabled) {
    JetStreamMonitor* js = server_.jetstream_monitor();
    if (js == nullptr || !js->enabled()) {
      JsonWriter w;
      w.begin_object().field("status", "unavailable").field("error", "JetStream not enabled (10076)").end_object();
      return HttpReply{503, "application/json", w.take()};
    }
  }
  return HttpReply{200, "application/json", "{\"status\":\"ok\"}"};
}

}  // namespace forest::broker

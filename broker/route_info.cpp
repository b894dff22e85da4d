#include "route_info.hpp"

#include "json_read.hpp"
#include "json_writer.hpp"

namespace forest::broker {
using json::for_each_field;
using json::key_is;
using json::read_bool;
using json::read_int;
using json::read_string;
using json::read_strings;
using json::value;

std::optional<RouteInfo> parse_route_info(std::string_view json) {
  RouteInfo info;
  const bool ok = for_each_field(json, [&](std::string_view k, value v) {
    if (key_is(k, "server_id")) return read_string(v, info.id);
    if (key_is(k, "server_name")) return read_string(v, info.name);
    if (key_is(k, "version")) return read_string(v, info.version);
    if (key_is(k, "go")) return read_string(v, info.go);
    if (key_is(k, "host")) return read_string(v, info.host);
    if (key_is(k, "port")) return read_int(v, info.port);
    if (key_is(k, "ip")) return read_string(v, info.ip);
    if (key_is(k, "cluster")) return read_string(v, info.cluster);
    if (key_is(k, "cluster_dynamic")) return read_bool(v, info.dynamic);
    if (key_is(k, "headers")) return read_bool(v, info.headers);
    if (key_is(k, "auth_required")) return read_bool(v, info.auth_required);
    if (key_is(k, "tls_required")) return read_bool(v, info.tls_required);
    if (key_is(k, "jetstream")) return read_bool(v, info.jetstream);
    if (key_is(k, "lnoc")) return read_bool(v, info.lnoc);
    if (key_is(k, "ldm")) return read_bool(v, info.lame_duck);
    if (key_is(k, "proto")) return read_int(v, info.proto);
    if (key_is(k, "max_payload")) return read_int(v, info.max_payload);
    if (key_is(k, "connect_urls")) return read_strings(v, info.connect_urls);
    if (key_is(k, "forest")) return read_bool(v, info.forest);
    return true;  // ignored, as nats-server ignores fields it does not know
  });
  if (!ok) return std::nullopt;
  return info;
}

std::optional<RouteConnect> parse_route_connect(std::string_view json) {
  RouteConnect c;
  const bool ok = for_each_field(json, [&](std::string_view k, value v) {
    if (key_is(k, "user")) return read_string(v, c.user);
    if (key_is(k, "pass")) return read_string(v, c.pass);
    if (key_is(k, "name")) return read_string(v, c.name);
    if (key_is(k, "cluster")) return read_string(v, c.cluster);
    if (key_is(k, "lang")) return read_string(v, c.lang);
    if (key_is(k, "gateway")) return read_string(v, c.gateway);
    if (key_is(k, "cluster_dynamic")) return read_bool(v, c.dynamic);
    if (key_is(k, "headers")) return read_bool(v, c.headers);
    if (key_is(k, "lnoc")) return read_bool(v, c.lnoc);
    if (key_is(k, "tls_required")) return read_bool(v, c.tls_required);
    return true;
  });
  if (!ok) return std::nullopt;
  return c;
}

std::string route_info_json(const RouteInfo& info) {
  JsonWriter w;
  w.begin_object();
  w.field("server_id", info.id);
  w.field("server_name", info.name);
  w.field("version", info.version);
  w.field("proto", info.proto);
  w.field("go", info.go);
  w.field("host", info.host);
  w.field("port", info.port);
  w.field("headers", info.headers);
  if (info.auth_required) w.field("auth_required", true);
  if (info.tls_required) w.field("tls_required", true);
  w.field("max_payload", info.max_payload);
  if (info.jetstream) w.field("jetstream", true);
  if (!info.ip.empty()) w.field("ip", info.ip);
  if (!info.cluster.empty()) w.field("cluster", info.cluster);
  if (info.dynamic) w.field("cluster_dynamic", true);
  if (!info.connect_urls.empty()) {
    w.key("connect_urls").begin_array();
    for (const auto& u : info.connect_urls) w.value(u);
    w.end_array();
  }
  if (info.lame_duck) w.field("ldm", true);
  if (info.lnoc) w.field("lnoc", true);
  if (info.forest) w.field("forest", true);
  w.end_object();
  return w.take();
}

std::string route_connect_json(const RouteConnect& c) {
  JsonWriter w;
  w.begin_object();
  w.field("echo", true);
  w.field("verbose", false);
  w.field("pedantic", false);
  if (!c.user.empty()) w.field("user", c.user);
  if (!c.pass.empty()) w.field("pass", c.pass);
  w.field("tls_required", c.tls_required);
  w.field("headers", c.headers);
  w.field("name", c.name);
  w.field("cluster", c.cluster);
  if (c.dynamic) w.field("cluster_dynamic", true);
  if (c.lnoc) w.field("lnoc", true);
  w.end_object();
  return w.take();
}

}  // namespace forest::broker

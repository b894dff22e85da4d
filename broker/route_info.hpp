// The JSON of the route handshake, as nats-server 2.9 writes and reads it: the INFO a server
// sends on a route (and forwards to the other routes when gossiping a new peer) and the
// CONNECT the soliciting side sends.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forest::broker {

struct RouteInfo {
  std::string id;        // server_id
  std::string name;      // server_name
  std::string version;
  std::string go;
  std::string host;
  int port = 0;
  std::string ip;        // "nats-route://host:port/" when advertised (or filled in for gossip)
  std::string cluster;
  bool dynamic = false;  // cluster_dynamic
  bool headers = false;
  bool auth_required = false;
  bool tls_required = false;
  bool jetstream = false;
  bool lnoc = false;
  bool lame_duck = false;  // ldm
  int proto = 0;
  int64_t max_payload = 0;
  std::vector<std::string> connect_urls;
  // Ours: the peer is a forest-server (duplicate routes are resolved by a rule both sides know).
  bool forest = false;
};

struct RouteConnect {
  std::string user, pass;
  std::string name;     // the remote server id
  std::string cluster;
  std::string lang;     // set by clients only: a client dialed the route port
  std::string gateway;  // set by gateways only
  bool dynamic = false;
  bool headers = false;
  bool lnoc = false;
  bool tls_required = false;
};

// Reads INFO / CONNECT JSON the way Go's json.Unmarshal fills nats-server's structs: unknown
// keys ignored, absent ones default; nullopt when it is not a JSON object or a known key has
// the wrong type.
[[nodiscard]] std::optional<RouteInfo> parse_route_info(std::string_view json);
[[nodiscard]] std::optional<RouteConnect> parse_route_connect(std::string_view json);

// The JSON object (no "INFO " prefix) with nats-server's field names and omitempty rules.
[[nodiscard]] std::string route_info_json(const RouteInfo& info);
[[nodiscard]] std::string route_connect_json(const RouteConnect& c);

}  // namespace forest::broker

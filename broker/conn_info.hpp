// What the monitor reports about a connection: a copy taken under the connection's locks, so
// the HTTP thread never reads a connection's live state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace forest::broker {

using SystemTime = std::chrono::system_clock::time_point;

enum class CloseReason : uint8_t {
  none,
  client_closed,
  authentication_timeout,
  authentication_violation,
  slow_consumer_pending_bytes,
  slow_consumer_write_deadline,
  write_error,
  read_error,
  parse_error,
  stale_connection,
  protocol_violation,
  bad_client_protocol_version,
  max_connections_exceeded,
  max_account_connections_exceeded,
  max_subscriptions_exceeded,
  max_payload_exceeded,
  max_control_line_exceeded,
  server_shutdown,
  no_responders_requires_headers,
  duplicate_route,
  route_removed,
  cluster_name_conflict,
  duplicate_server_name,
  wrong_port,
  tls_handshake_error,
};

// nats-server's ClosedState texts, as /connz shows them.
const char* close_reason_text(CloseReason r);

struct SubInfo {
  std::string account;
  std::string subject;
  std::string queue;
  std::string sid;
  int64_t msgs = 0;
  int64_t max = 0;
  uint64_t cid = 0;
};

// Messages and bytes in (published) and out (delivered).
struct TrafficCounts {
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
};

struct ConnSnapshot {
  uint64_t cid = 0;
  std::string ip;
  int port = 0;
  SystemTime start;
  SystemTime last_activity;
  SystemTime stop;  // epoch when open
  CloseReason reason = CloseReason::none;
  std::chrono::nanoseconds rtt{0};
  uint64_t pending_bytes = 0;
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  uint32_t num_subs = 0;
  std::string name, lang, version;
  std::string authorized_user;
  // The user (or nkey) named in CONNECT, whether or not it passed: the auth error event names
  // it (nats-server's raw auth user; a token is never shown, nats-server would show it).
  std::string given_user;
  std::string account;
  std::vector<SubInfo> subs;  // filled when asked for
};

// A route, for /routez.
struct RouteSnapshot : ConnSnapshot {
  std::string remote_id;
  std::string remote_name;
  bool did_solicit = false;
  bool is_configured = false;
};

}  // namespace forest::broker

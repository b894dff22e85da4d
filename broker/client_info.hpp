// nats-server's ClientInfo (events.go): who a client is, as its system events (connect,
// disconnect) and service latency reports write it. Every field but the account is left out
// when empty (Go's omitempty), so each user fills what nats-server reports in its place.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "conn_info.hpp"

namespace forest::broker {

class JsonWriter;

struct ClientInfo {
  std::optional<SystemTime> start;
  std::string host;
  uint64_t id = 0;
  std::string account;
  std::string user, name, lang, version;
  std::chrono::nanoseconds rtt{0};
  std::string server, cluster;
  std::optional<SystemTime> stop;
  std::string kind;         // "Client"
  std::string client_type;  // "nats"
};

// Everything a connection's snapshot says about its client (start, host, id, account, user,
// name, lang, version, kind and type); RTT, server, cluster and stop are the caller's choice.
[[nodiscard]] ClientInfo client_info(const ConnSnapshot& conn);

// The object, keys in Go's order.
void write_client_info(JsonWriter& w, const ClientInfo& c);

}  // namespace forest::broker

#pragma once

#include <string>

namespace forest::broker {

// A fresh server id in nats-server's form ("N..." , 56 characters).
[[nodiscard]] std::string make_server_id();

// A fresh event id (system events, latency reports): 22 base-62 characters, the length of the
// nuid nats-server uses.
[[nodiscard]] std::string make_event_id();

}  // namespace forest::broker

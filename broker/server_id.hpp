#pragma once

#include <string>

namespace forest::broker {

// A fresh server id in nats-server's form ("N..." , 56 characters).
[[nodiscard]] std::string make_server_id();

}  // namespace forest::broker

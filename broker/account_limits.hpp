// An account's `limits {}` (nats-server 2.9's config accounts), and how they combine with the
// server's own limits into one connection's.
#pragma once

#include <algorithm>
#include <cstdint>

namespace forest::broker {

// -1: no limit, as nats-server's jwt.NoLimit.
struct AccountLimits {
  int64_t max_connections = -1;    // clients of the account on this server
  int64_t max_subscriptions = -1;  // per connection
  int64_t max_payload = -1;        // per connection
  int64_t max_leafnodes = -1;      // accepted for configs that set it; there are no leaf nodes yet
  bool operator==(const AccountLimits&) const = default;
};

// One connection's limit from the server's (`server` <= 0: none) and the account's (< 0:
// none): the smaller one, -1 for none. nats-server's applyAccountLimits does the same.
[[nodiscard]] inline int64_t combined_limit(int64_t server, int64_t account) {
  if (server <= 0) return account < 0 ? -1 : account;
  if (account < 0) return server;
  return std::min(server, account);
}

}  // namespace forest::broker

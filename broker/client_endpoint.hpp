// What the server does with a client connection, whatever kind it is: a TCP client
// (ClientConn) or an in-process one (InProcessConn, the embedding app's). The server's client
// registry holds these, so monitoring (/connz, /varz), limits, reload, lame duck and shutdown
// treat both kinds alike.
//
// Every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "conn_info.hpp"

namespace forest::broker {

class ClientEndpoint {
 public:
  virtual ~ClientEndpoint() = default;

  [[nodiscard]] virtual uint64_t client_id() const = 0;
  // A copy of its state for monitoring, with its subscriptions when asked.
  [[nodiscard]] virtual ConnSnapshot snapshot(bool with_subs) const = 0;
  // Closes it (flushing what it was owed); it reports to Server::client_closed when done.
  virtual void request_close(CloseReason reason) = 0;
  // Tells it `-ERR '<text>'` (in whatever form it takes errors) and closes it.
  virtual void close_with_error(std::string_view text, CloseReason reason) = 0;
  // Lame-duck mode began.
  virtual void notify_lame_duck() = 0;
  // The cluster's client URLs changed.
  virtual void send_async_info() = 0;
  // A reload changed the options: take on the new limits.
  virtual void apply_options() = 0;
  // A reload changed authorization; see ClientConn::recheck_authorization.
  virtual void recheck_authorization(bool credentials_changed) = 0;
  // The round trip measured with the server's first PING (0 until then, and for in-process
  // connections), as nats-server's Nats-Request-Info and latency reports carry it.
  [[nodiscard]] virtual std::chrono::nanoseconds rtt() const { return std::chrono::nanoseconds(0); }
  // In-process connections belong to the embedding app: lame duck closes them last.
  [[nodiscard]] virtual bool in_process() const { return false; }
  // Traffic it counts itself instead of in the server's shared counters, added to `into`.
  // The server adds it to /varz while the connection lives, and folds it into its counters
  // when it closes (Server::client_closed). TCP clients count through their I/O thread: none.
  virtual void add_own_traffic(TrafficCounts& /*into*/) const {}
};

}  // namespace forest::broker

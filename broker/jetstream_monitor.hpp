// What the monitoring endpoints ask of the JetStream service (/jsz, /healthz's JetStream
// checks). The service lives in jetstream/, which this library does not link, so the monitor
// sees it through this interface only.
//
// Threads: the service registers itself with the Server when it is built (before
// Server::start(), so the pointer never changes while the monitor runs). enabled() may be
// called from any thread; jsz() from the monitor thread or the service thread: it hands the
// work to the service thread, which owns the stores, and waits at most `timeout` for the answer
// (on the service thread itself, as the system account's requests run, it takes it at once).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>

namespace forest::broker {

// nats-server's JSzOptions, decoded from the /jsz query.
struct JszOptions {
  std::string account;  // "acc": only this account's details
  bool accounts = false;
  bool streams = false;
  bool consumers = false;
  bool config = false;
  bool leader_only = false;
  int64_t offset = 0;
  int64_t limit = 0;
  // Only the account's AccountDetail object, as nats-server's JszAccount answers
  // $SYS.REQ.ACCOUNT.<account>.JSZ (`account` names it; consumers need streams there).
  bool account_detail = false;
};

// Why jsz() gave no JSON: the HTTP status and nats-server's plain-text body.
struct JszError {
  int status = 500;
  std::string text;
};

class JetStreamMonitor {
 public:
  virtual ~JetStreamMonitor() = default;
  // Whether JetStream serves (started and not stopped): nats-server's js.isEnabled().
  [[nodiscard]] virtual bool enabled() const = 0;
  // The /jsz body while JetStream serves (nats-server's JSInfo), built from a snapshot the
  // service thread takes.
  [[nodiscard]] virtual std::expected<std::string, JszError> jsz(const JszOptions& options,
                                                                 std::chrono::milliseconds timeout) = 0;
};

}  // namespace forest::broker

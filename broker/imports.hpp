// Account imports and exports at run time (nats-server 2.9's stream and service imports).
//
// Every import is an ordinary subscription whose sink forwards into another account, so an
// account without imports pays nothing on its publish path:
//  - a stream import of B from A is a subscription in A on the imported subject; its sink maps
//    the subject (`to`, or "prefix.subject") and delivers into B's local subscribers. Routes
//    learn it as interest of A (RS+ A subject), so a publisher in A on another server reaches
//    this server, and each server delivers to its own clients in B (one copy each).
//  - a service import of B from A is a subscription in B on the import's `to` subject, kept
//    off the routes (node_local: the server where the request is published forwards it). Its
//    sink sends the request into A on the exported subject with a new reply subject
//    "_R_.<prefix>.<token>", remembered in A's ResponseMap with the requester's reply.
//  - A's ResponseMap is a subscription in A on "_R_.<prefix>.>" (announced to routes, so a
//    responder on another server reaches it); a reply on a remembered subject is delivered
//    into B on the requester's reply subject, and forgotten after the first one for
//    singleton services, or when the export's response threshold (default 2 minutes) passes.
//  - an export with `latency` samples requests as they cross the import (broker/service_latency.hpp
//    decides which); a sampled request's entry keeps when it was forwarded and who asked, and
//    whatever ends the entry (the response, no taker, lost interest, the threshold) publishes
//    one report into the exporter on the latency subject.
//
// Threads: sinks deliver on publishers' threads (any); the response map is under its mutex.
// apply() runs at startup and on reload (control thread), never concurrently with itself.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "account.hpp"
#include "options.hpp"
#include "service_latency.hpp"
#include "subscription.hpp"

namespace forest::broker {

// A sampled request of a service export with latency tracking, kept with its reply entry
// until the response (or its absence) is reported on the export's latency subject.
struct LatencyTracking {
  std::string subject;                    // where the exporter hears the report
  std::optional<ClientInfo> requestor;  // null: an internal publisher asked
  TracingHeaders headers;                  // the tracing headers that made it sampled
  SystemTime forwarded_at;                 // when the request went into the exporter
  std::chrono::steady_clock::time_point forwarded_steady;
};

// The replies owed to importers of one exporting account's services.
class ResponseMap final : public MessageSink {
 public:
  ResponseMap(Account& exporter, LatencyServer server);
  // "_R_.XXXXXX." (random per server and account, as nats-server's siReply).
  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  [[nodiscard]] const LatencyServer& server() const { return server_; }
  // A new reply subject in the exporter that leads back to `reply` in `importer`. `tracking`
  // (singleton services only): the request is measured.
  [[nodiscard]] std::string add(Account& importer, std::string_view reply, ResponseType type, Duration threshold,
                                std::unique_ptr<LatencyTracking> tracking = nullptr);
  // The request went nowhere in the exporter: its entry goes (a tracked one reports 503).
  void remove_undelivered(const std::string& subject);
  // `subject` of `importer` lost a subscriber: replies owed to it that nobody there can
  // receive any more are dropped (tracked ones report 408).
  void forget(Account& importer, std::string_view subject);
  // Entries past their response threshold go (tracked ones report 504). Runs on the way of
  // new requests and from the server's housekeeping timer.
  void expire();
  [[nodiscard]] std::size_t pending() const;
  // A report on the latency subject, published into the exporter as a client's message.
  void publish_report(const LatencyTracking& t, const LatencyReport& report);

  bool deliver(Subscription& sub, const Delivery& msg) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Account* importer;
    std::string reply;
    ResponseType type;
    Clock::time_point deadline;
    std::unique_ptr<LatencyTracking> tracking;
  };
  using Failed = std::vector<std::pair<int, std::unique_ptr<LatencyTracking>>>;  // (status, tracking)
  void sweep_locked(Clock::time_point now, Failed& failed);
  void erase_locked(std::unordered_map<std::string, Entry>::iterator it, int status, Failed& failed);
  void report_failed(Failed& failed);

  Account& exporter_;
  const LatencyServer server_;
  std::string prefix_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // under mu_
  Clock::time_point next_sweep_{};                  // under mu_
};

class Imports final : public SubscriptionWatcher {
 public:
  // `find`: an account by name (every account named in the options exists). Watches the
  // unsubscribes of `accounts` (all of them: a reload may add service imports anywhere).
  // `server`: this server's name and cluster, for latency reports.
  Imports(std::function<Account*(std::string_view)> find, const std::vector<Account*>& accounts,
          LatencyServer server);
  ~Imports() override;
  Imports(const Imports&) = delete;
  Imports& operator=(const Imports&) = delete;

  // Replaces every import's subscription with those `accounts` configure (checked by the
  // options parser). Response maps stay, so replies already owed still find their way.
  void apply(const std::vector<AccountConfig>& accounts);
  // The `accounts` of the last apply() (any thread).
  [[nodiscard]] std::vector<AccountConfig> applied() const;
  // Pending replies of service imports into `exporter` (tests, monitoring).
  [[nodiscard]] std::size_t pending_responses(const std::string& exporter) const;
  // Housekeeping (the server's timer): replies past their threshold go, reporting 504.
  void expire_responses();

  void subscription_gone(Account& account, std::string_view subject) override;

 private:
  struct Installed {
    Account* account;
    SubPtr sub;
  };
  std::shared_ptr<ResponseMap> responses_for(Account& exporter);
  void clear();

  std::function<Account*(std::string_view)> find_;
  const LatencyServer server_;
  std::vector<Installed> installed_;
  mutable std::mutex mu_;  // guards responses_ (pending_responses may come from any thread)
  std::unordered_map<std::string, std::shared_ptr<ResponseMap>> responses_;
  std::vector<Installed> response_subs_;
  std::vector<AccountConfig> applied_;  // under mu_
};

}  // namespace forest::broker

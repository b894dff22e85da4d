// An account: a namespace of subjects with its own subject index. Every connection,
// subscription and publish belongs to one; "$G" when no accounts are configured.
//
// Interest has one entry point: every local subscribe and unsubscribe (clients, internal
// services, in-process clients) goes through subscribe()/unsubscribe(), which keep the index
// and a count per (subject, queue). When a count crosses zero, or a queue group's weight (its
// local members) changes, the listener (the cluster) is told, so that routes get RS+/RS- only
// then. Remote interest (from routes) enters the index with add_remote() and is never
// announced again (one hop).
//
// Accounts live as long as the server; every method is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "account_limits.hpp"
#include "conn_info.hpp"
#include "sublist.hpp"

namespace forest::broker {

inline constexpr const char* kGlobalAccount = "$G";

class Account;

// One change of local interest: a plain subject appearing (weight 1) or going (0), or a queue
// group's local weight becoming `weight` (0: no member left here).
struct InterestChange {
  std::string subject;
  std::string queue;
  int32_t weight = 0;
};

// Told about interest changes, under the account's interest lock so that every route sees
// them in order. It must only append to buffers: no blocking, no calls back into the account.
class InterestListener {
 public:
  virtual ~InterestListener() = default;
  virtual void interest_changed(const Account& account, std::span<const InterestChange> changes) = 0;
};

// Told when a local subscription of an account leaves the index while replies of service
// imports are owed to that account (broker/imports.hpp): the requester may be gone. Called
// with no lock of the account held; it may match in the account's index.
class SubscriptionWatcher {
 public:
  virtual ~SubscriptionWatcher() = default;
  virtual void subscription_gone(Account& account, std::string_view subject) = 0;
};

class Account {
 public:
  explicit Account(std::string name, uint32_t index) : name_(std::move(name)), index_(index) {}
  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  // Dense index, so per-thread state (match caches) can be kept in a vector.
  [[nodiscard]] uint32_t index() const { return index_; }
  [[nodiscard]] Sublist& sublist() { return sublist_; }
  [[nodiscard]] const Sublist& sublist() const { return sublist_; }

  // Local interest. False when the subject is not a valid subscription subject.
  [[nodiscard]] bool subscribe(const SubPtr& sub);
  void unsubscribe(const SubPtr& sub);
  // Many at once (a closing connection's): one index batch and one listener call.
  void unsubscribe_batch(std::span<const SubPtr> subs);

  // Remote interest: the index only.
  [[nodiscard]] bool add_remote(const SubPtr& sub) { return sublist_.insert(sub); }
  void remove_remote(const SubPtr& sub) { sublist_.remove(sub); }
  void remove_remote_batch(std::span<const SubPtr> subs) { sublist_.remove_batch(subs); }
  // A remote queue subscription's weight changed.
  void update_remote_weight(const SubPtr& sub, int32_t weight) { sublist_.update_weight(sub, weight); }

  void set_interest_listener(InterestListener* listener);
  // Service import replies owed to this account's requesters (kept by the response maps);
  // while there are any, an unsubscribe tells the watcher. Accounts that import no service
  // pay one relaxed load per unsubscribe.
  void set_subscription_watcher(SubscriptionWatcher* watcher) { watcher_.store(watcher); }
  void add_owed_replies(int64_t n) { owed_replies_.fetch_add(n, std::memory_order_relaxed); }
  // Calls fn(subject, queue, weight) for the current local interest, then `done`, all under the
  // interest lock: a route being registered is sent everything in `done`, before any later
  // change is sent to it (a snapshot sent after the lock is released could overtake an RS-
  // and leave the peer a subscription that no longer exists).
  void for_each_interest(const std::function<void(std::string_view, std::string_view, int32_t)>& fn,
                         const std::function<void()>& done = {}) const;
  [[nodiscard]] std::size_t interest_entries() const;

  // The account's limits (from the config; replaced by a reload, for connections that come after).
  [[nodiscard]] AccountLimits limits() const;
  void set_limits(const AccountLimits& limits);
  // Counts a client in, unless the account is at max_connections; remove_connection() counts
  // it out. Check and count are one step, so racing connects cannot both take the last place.
  [[nodiscard]] bool try_add_connection();
  void remove_connection();
  [[nodiscard]] int64_t num_connections() const;

  // What its clients that have closed sent and received (Server::client_closed), and its slow
  // consumers: with the live clients' counts, nats-server's AccountStat (account_statz.hpp).
  // Counted when a client closes, not per message, so publishing pays nothing for it.
  void add_closed_traffic(const TrafficCounts& t);
  [[nodiscard]] TrafficCounts closed_traffic() const;
  void count_slow_consumer() { slow_consumers_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] int64_t slow_consumers() const { return slow_consumers_.load(std::memory_order_relaxed); }

 private:
  // Under interest_mu_: counts `sub` in (+1) or out (-1); returns whether that is a change
  // worth telling routes, and fills `change`.
  bool count_locked(const Subscription& sub, int delta, InterestChange& change);
  void tell_watcher(const Subscription& sub) {
    if (owed_replies_.load(std::memory_order_relaxed) <= 0 || sub.import_sink) return;
    if (SubscriptionWatcher* w = watcher_.load()) w->subscription_gone(*this, sub.subject);
  }

  std::string name_;
  uint32_t index_;
  Sublist sublist_;

  mutable std::mutex limits_mu_;
  AccountLimits limits_;     // under limits_mu_
  int64_t connections_ = 0;  // under limits_mu_

  mutable std::mutex interest_mu_;
  // "subject" or "subject queue" -> local subscriptions (for a queue: its members here).
  std::unordered_map<std::string, int32_t> interest_;
  InterestListener* listener_ = nullptr;  // under interest_mu_

  std::atomic<SubscriptionWatcher*> watcher_{nullptr};
  std::atomic<int64_t> owed_replies_{0};

  TrafficCounts closed_traffic_;  // under limits_mu_
  std::atomic<int64_t> slow_consumers_{0};
};

}  // namespace forest::broker

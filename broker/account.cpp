#include "account.hpp"

#include <map>

namespace forest::broker {
namespace {

std::string interest_key(const Subscription& sub) {
  if (sub.queue.empty()) return sub.subject;
  std::string key;
  key.reserve(sub.subject.size() + 1 + sub.queue.size());
  key.append(sub.subject).append(" ").append(sub.queue);
  return key;
}

}  // namespace

bool Account::count_locked(const Subscription& sub, int delta, InterestChange& change) {
  if (sub.node_local) return false;  // routes never hear of it
  const std::string key = interest_key(sub);
  auto it = interest_.find(key);
  int32_t now = 0;
  if (it == interest_.end()) {
    if (delta < 0) return false;  // never counted: nothing to take back
    interest_.emplace(key, delta);
    now = delta;
  } else {
    it->second += delta;
    now = it->second;
    if (now <= 0) {
      interest_.erase(it);
      now = 0;
    }
  }
  const bool queue = !sub.queue.empty();
  // Plain interest matters only when it appears or disappears; a queue group's weight always.
  if (!queue && !(now == 0 || (now == 1 && delta > 0))) return false;
  change.subject = sub.subject;
  change.queue = sub.queue;
  change.weight = queue ? now : (now > 0 ? 1 : 0);
  return true;
}

bool Account::subscribe(const SubPtr& sub) {
  if (!sublist_.insert(sub)) return false;
  std::lock_guard lock(interest_mu_);
  InterestChange change;
  if (count_locked(*sub, +1, change) && listener_ != nullptr) listener_->interest_changed(*this, {&change, 1});
  return true;
}

void Account::unsubscribe(const SubPtr& sub) {
  if (!sublist_.remove(sub)) return;
  tell_watcher(*sub);
  std::lock_guard lock(interest_mu_);
  InterestChange change;
  if (count_locked(*sub, -1, change) && listener_ != nullptr) listener_->interest_changed(*this, {&change, 1});
}

void Account::unsubscribe_batch(std::span<const SubPtr> subs) {
  std::vector<SubPtr> removed;
  sublist_.remove_batch(subs, &removed);
  if (removed.empty()) return;
  for (const SubPtr& sub : removed) tell_watcher(*sub);
  std::lock_guard lock(interest_mu_);
  // The last state of each key is what routes need to hear (a group losing 1,000 members is
  // one RS+ with its new weight, not 1,000).
  std::map<std::pair<std::string, std::string>, int32_t> last;
  InterestChange change;
  for (const SubPtr& sub : removed) {
    if (count_locked(*sub, -1, change)) last[{change.subject, change.queue}] = change.weight;
  }
  if (listener_ == nullptr || last.empty()) return;
  std::vector<InterestChange> changes;
  changes.reserve(last.size());
  for (auto& [key, weight] : last) changes.push_back({key.first, key.second, weight});
  listener_->interest_changed(*this, changes);
}

void Account::set_interest_listener(InterestListener* listener) {
  std::lock_guard lock(interest_mu_);
  listener_ = listener;
}

void Account::for_each_interest(const std::function<void(std::string_view, std::string_view, int32_t)>& fn,
                                const std::function<void()>& done) const {
  std::lock_guard lock(interest_mu_);
  for (const auto& [key, count] : interest_) {
    const std::string_view k = key;
    const auto space = k.find(' ');
    if (space == std::string_view::npos) {
      fn(k, {}, 1);
    } else {
      fn(k.substr(0, space), k.substr(space + 1), count);
    }
  }
  if (done) done();
}

std::size_t Account::interest_entries() const {
  std::lock_guard lock(interest_mu_);
  return interest_.size();
}

AccountLimits Account::limits() const {
  std::lock_guard lock(limits_mu_);
  return limits_;
}

void Account::set_limits(const AccountLimits& limits) {
  std::lock_guard lock(limits_mu_);
  limits_ = limits;
}

bool Account::try_add_connection() {
  std::lock_guard lock(limits_mu_);
  if (limits_.max_connections >= 0 && connections_ >= limits_.max_connections) return false;
  ++connections_;
  return true;
}

void Account::remove_connection() {
  std::lock_guard lock(limits_mu_);
  --connections_;
}

int64_t Account::num_connections() const {
  std::lock_guard lock(limits_mu_);
  return connections_;
}

void Account::add_closed_traffic(const TrafficCounts& t) {
  std::lock_guard lock(limits_mu_);
  closed_traffic_.in_msgs += t.in_msgs;
  closed_traffic_.in_bytes += t.in_bytes;
  closed_traffic_.out_msgs += t.out_msgs;
  closed_traffic_.out_bytes += t.out_bytes;
}

TrafficCounts Account::closed_traffic() const {
  std::lock_guard lock(limits_mu_);
  return closed_traffic_;
}

}  // namespace forest::broker

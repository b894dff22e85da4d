// Permission matching: allow and deny lists checked in nats-server's order, with its queue
// group rules and its reply-subject accounting for allow_responses.
#include "permissions.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "subject.hpp"

namespace forest::broker {
namespace {

// "subject" or "subject queue" (as written in a subscribe list; whitespace separated).
void split_subject_queue(std::string_view text, std::string& subject, std::string& queue) {
  auto skip_space = [&](std::size_t i) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    return i;
  };
  auto end_of_word = [&](std::size_t i) {
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    return i;
  };
  std::size_t b = skip_space(0), e = end_of_word(b);
  subject.assign(text.substr(b, e - b));
  b = skip_space(e);
  e = end_of_word(b);
  queue.assign(text.substr(b, e - b));
}

bool any_matches(const std::vector<std::string>& filters, std::string_view subject) {
  for (const std::string& f : filters) {
    if (subject_matches(f, subject)) return true;
  }
  return false;
}

}  // namespace

PermissionRules::PermissionRules(Permissions config) : config_(std::move(config)) {
  if (config_.publish) {
    pub_allow_ = config_.publish->allow;
    pub_deny_ = config_.publish->deny;
  }
  if (config_.subscribe) {
    auto compile = [](const std::vector<std::string>& in, std::vector<SubEntry>& out) {
      for (const std::string& text : in) {
        SubEntry e;
        split_subject_queue(text, e.subject, e.queue);
        out.push_back(std::move(e));
      }
    };
    // As nats-server: an empty subscribe allow list is no allow list.
    if (config_.subscribe->allow && !config_.subscribe->allow->empty()) {
      sub_allow_set_ = true;
      compile(*config_.subscribe->allow, sub_allow_);
    }
    compile(config_.subscribe->deny, sub_deny_);
    deny_raw_ = config_.subscribe->deny;
  }
}

bool PermissionRules::publish_allowed(std::string_view subject) const {
  bool allowed = true;
  if (pub_allow_) allowed = any_matches(*pub_allow_, subject);
  if (allowed && !pub_deny_.empty()) allowed = !any_matches(pub_deny_, subject);
  return allowed;
}

// The subscription's subject is matched against each entry the way nats-server looks it up
// in a subject index: a wildcard token of the subscription is a token like any other, so
// "foo.*" passes "foo.*" and "foo.>" but not "foo.bar".
PermissionRules::SubMatches PermissionRules::match(const std::vector<SubEntry>& list, std::string_view subject) {
  SubMatches m;
  for (const SubEntry& e : list) {
    if (!subject_matches(e.subject, subject)) continue;
    if (e.queue.empty()) {
      m.plain = true;
    } else {
      m.queues.push_back(&e);
    }
  }
  return m;
}

// A queue entry's name may itself have wildcards ("v1.*" passes queue "v1.a").
bool PermissionRules::queue_matches(std::string_view queue, const std::vector<const SubEntry*>& entries) {
  if (entries.empty()) return true;
  for (const SubEntry* e : entries) {
    if (queue == e->queue || (has_wildcard(e->queue) && subject_is_subset(queue, e->queue))) return true;
  }
  return false;
}

bool PermissionRules::subscribe_allowed(std::string_view subject, std::string_view queue) const {
  bool allowed = true;
  if (sub_allow_set_) {
    const SubMatches m = match(sub_allow_, subject);
    allowed = m.plain;
    // Queue entries, when any matches the subject, decide for a queue subscription alone
    // (nats-server overrides the plain verdict with them, in both lists).
    if (!queue.empty() && !m.queues.empty()) allowed = queue_matches(queue, m.queues);
  }
  if (allowed && !sub_deny_.empty()) {
    const SubMatches m = match(sub_deny_, subject);
    allowed = !m.plain;
    if (!queue.empty() && !m.queues.empty()) allowed = !queue_matches(queue, m.queues);
  }
  return allowed;
}

bool PermissionRules::wildcard_covers_deny(std::string_view subject) const {
  if (!has_wildcard(subject)) return false;
  for (const std::string& d : deny_raw_) {
    if (subject_is_subset(d, subject)) return true;
  }
  return false;
}

bool PermissionRules::delivery_denied(std::string_view subject) const {
  // Entries as written: one with a queue name ("foo q") never matches a message subject,
  // as in nats-server's filter.
  return any_matches(deny_raw_, subject);
}

ConnPermissions::ConnPermissions(std::shared_ptr<const PermissionRules> rules) : rules_(std::move(rules)) {}

bool ConnPermissions::may_publish(std::string_view subject, Clock::time_point now) {
  if (!rules_->restricts_publish()) return true;
  const std::string key(subject);
  if (auto it = pub_cache_.find(key); it != pub_cache_.end()) return it->second;
  const bool allowed = rules_->publish_allowed(subject);
  if (!allowed && rules_->responses()) {
    // Not cached: the answer depends on the replies received and their use.
    return use_reply(subject, now);
  }
  if (pub_cache_.size() >= kMaxCachedVerdicts) {
    std::size_t n = 0;
    for (auto it = pub_cache_.begin(); it != pub_cache_.end() && n < kPruneVerdicts; ++n) it = pub_cache_.erase(it);
  }
  pub_cache_.emplace(key, allowed);
  return allowed;
}

bool ConnPermissions::may_subscribe(std::string_view subject, std::string_view queue) {
  const bool allowed = rules_->subscribe_allowed(subject, queue);
  if (allowed && rules_->has_subscribe_deny() && !deny_filter_.load(std::memory_order_relaxed) &&
      rules_->wildcard_covers_deny(subject)) {
    deny_filter_.store(true, std::memory_order_relaxed);
  }
  return allowed;
}

void ConnPermissions::note_reply(std::string_view reply, Clock::time_point now) {
  if (reply.empty() || !rules_->responses()) return;
  std::lock_guard lock(replies_mu_);
  replies_.insert_or_assign(std::string(reply), Reply{now, 0});
  if (replies_.size() > prune_at_) prune_replies(now, reply);
}

bool ConnPermissions::use_reply(std::string_view subject, Clock::time_point now) {
  const ResponsePermission& rp = *rules_->responses();
  std::lock_guard lock(replies_mu_);
  auto it = replies_.find(std::string(subject));
  if (it == replies_.end()) return false;
  ++it->second.uses;
  if ((rp.max_msgs > 0 && it->second.uses > rp.max_msgs) ||
      (rp.expires.count() > 0 && now - it->second.at > rp.expires)) {
    replies_.erase(it);
    return false;
  }
  return true;
}

void ConnPermissions::prune_replies(Clock::time_point now, std::string_view keep) {
  const ResponsePermission& rp = *rules_->responses();
  for (auto it = replies_.begin(); it != replies_.end();) {
    const bool used_up = rp.max_msgs > 0 && it->second.uses >= rp.max_msgs;
    const bool expired = rp.expires.count() > 0 && now - it->second.at > rp.expires;
    it = used_up || expired ? replies_.erase(it) : std::next(it);
  }
  // Without a limit or an expiry nothing above goes: keep memory bounded anyway (nats-server
  // has no cap), down to three quarters of it so that the next full scan is a quarter of the
  // cap away. The oldest go first, never `keep` (the reply just noted).
  if (replies_.size() > kMaxReplies) {
    std::vector<std::pair<Clock::time_point, const std::string*>> by_age;
    by_age.reserve(replies_.size());
    for (const auto& [subject, r] : replies_) {
      by_age.emplace_back(subject == keep ? Clock::time_point::max() : r.at, &subject);
    }
    const std::size_t drop = replies_.size() - kMaxReplies / 4 * 3;
    std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(drop), by_age.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    // Copied first: erase(key) must not be handed a reference into the node it destroys.
    std::vector<std::string> gone;
    gone.reserve(drop);
    for (std::size_t i = 0; i < drop; ++i) gone.push_back(*by_age[i].second);
    for (const std::string& subject : gone) replies_.erase(subject);
  }
  // nats-server scans past 4,096 at every delivery; a scan that frees little would make each
  // delivery cost the whole table (quadratic). Scan again once the table has doubled instead
  // (expired and used-up entries are refused by use_reply() meanwhile).
  prune_at_ = std::clamp(replies_.size() * 2, kReplyPruneAt, kMaxReplies);
}

std::size_t ConnPermissions::tracked_replies() const {
  std::lock_guard lock(replies_mu_);
  return replies_.size();
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out.append(buf);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

std::string publish_violation_text(std::string_view subject) {
  return "Permissions Violation for Publish to " + go_quote(subject);
}

std::string subscription_violation_text(std::string_view subject, std::string_view queue) {
  std::string out = "Permissions Violation for Subscription to " + go_quote(subject);
  if (!queue.empty()) out.append(" using queue ").append(go_quote(queue));
  return out;
}

std::string removed_subscription_text(std::string_view subject, std::string_view sid) {
  return "Permissions Violation for Subscription to " + go_quote(subject) + " (sid " + go_quote(sid) + ")";
}

}  // namespace forest::broker

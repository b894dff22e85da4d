// Per-user permissions as nats-server 2.9 has them: which subjects a user may publish to and
// subscribe to (allow and deny lists with wildcards; subscribe entries may name a queue group),
// and `allow_responses` (publishing to the reply subjects of messages received, a number of
// times, for a while).
//
// Three layers:
// - `Permissions`: what the configuration says (options hold it; reload compares it);
// - `PermissionRules`: the same, ready to match; immutable, shared by every connection of
//   the user, on any thread;
// - `ConnPermissions`: one connection's state on top of the rules: the publish verdict cache,
//   the reply subjects it may answer, whether deliveries need the subscribe-deny filter.
//   Owned by its connection (shared_ptr); which member runs on which thread is said below.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace forest::broker {

// One direction (publish or subscribe). Without an allow list everything is allowed; deny
// refuses what allow let through.
struct SubjectPermission {
  std::optional<std::vector<std::string>> allow;  // an empty list (set by allow_responses) allows nothing
  std::vector<std::string> deny;
  bool operator==(const SubjectPermission&) const = default;
};

// nats-server's DEFAULT_ALLOW_RESPONSE_MAX_MSGS and DEFAULT_ALLOW_RESPONSE_EXPIRATION.
inline constexpr int64_t kDefaultResponseMaxMsgs = 1;
inline constexpr std::chrono::nanoseconds kDefaultResponseExpiration = std::chrono::minutes(2);

struct ResponsePermission {
  int64_t max_msgs = kDefaultResponseMaxMsgs;               // <= 0: no limit
  std::chrono::nanoseconds expires = kDefaultResponseExpiration;  // <= 0: never
  bool operator==(const ResponsePermission&) const = default;
};

struct Permissions {
  std::optional<SubjectPermission> publish;
  std::optional<SubjectPermission> subscribe;
  std::optional<ResponsePermission> responses;
  bool operator==(const Permissions&) const = default;
};

// The rules of one user, compiled once per configuration. Immutable; any thread.
class PermissionRules {
 public:
  explicit PermissionRules(Permissions config);

  [[nodiscard]] const Permissions& config() const { return config_; }
  // False when every publish passes (no allow and no deny list): no check at all.
  [[nodiscard]] bool restricts_publish() const { return pub_allow_.has_value() || !pub_deny_.empty(); }
  // The allow and deny lists alone (no reply subjects, no cache).
  [[nodiscard]] bool publish_allowed(std::string_view subject) const;
  // nats-server's canSubscribe: allow, then deny; queue entries ("subject queue") decide for
  // a queue subscription when any of them matches the subject.
  [[nodiscard]] bool subscribe_allowed(std::string_view subject, std::string_view queue) const;
  // Does a subscription on this (wildcard) subject take in a denied subject? Then deliveries
  // to the connection are filtered from then on (nats-server's loadMsgDenyFilter).
  [[nodiscard]] bool wildcard_covers_deny(std::string_view subject) const;
  // Is a message on this subject denied to a subscriber (the deny filter at delivery)?
  [[nodiscard]] bool delivery_denied(std::string_view subject) const;
  [[nodiscard]] bool has_subscribe_deny() const { return !deny_raw_.empty(); }
  [[nodiscard]] const std::optional<ResponsePermission>& responses() const { return config_.responses; }

 private:
  struct SubEntry {
    std::string subject;
    std::string queue;  // empty: any subscription on the subject
  };
  struct SubMatches {
    bool plain = false;
    std::vector<const SubEntry*> queues;
  };
  static SubMatches match(const std::vector<SubEntry>& list, std::string_view subject);
  static bool queue_matches(std::string_view queue, const std::vector<const SubEntry*>& entries);

  Permissions config_;
  std::optional<std::vector<std::string>> pub_allow_;
  std::vector<std::string> pub_deny_;
  bool sub_allow_set_ = false;
  std::vector<SubEntry> sub_allow_, sub_deny_;
  std::vector<std::string> deny_raw_;  // subscribe deny entries as written
};

// One connection's permissions. `may_publish` and `may_subscribe` are called by one thread at
// a time (the connection's owner, or under its publish lock); `blocks_delivery` and
// `note_reply` from any publisher's thread.
class ConnPermissions {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ConnPermissions(std::shared_ptr<const PermissionRules> rules);

  [[nodiscard]] const PermissionRules& rules() const { return *rules_; }
  // Publish check with nats-server's cache of verdicts (bounded) and, with allow_responses,
  // the reply subjects this connection received (each use counts toward the maximum).
  [[nodiscard]] bool may_publish(std::string_view subject, Clock::time_point now = Clock::now());
  // Subscribe check; a wildcard subscription that covers a denied subject arms the filter.
  [[nodiscard]] bool may_subscribe(std::string_view subject, std::string_view queue);
  // True when deliveries need a look (deny filter armed, or reply subjects to track).
  [[nodiscard]] bool checks_deliveries() const {
    return deny_filter_.load(std::memory_order_relaxed) || rules_->responses().has_value();
  }
  // Any thread: a message on `subject` must not reach this connection.
  [[nodiscard]] bool blocks_delivery(std::string_view subject) const {
    return deny_filter_.load(std::memory_order_relaxed) && rules_->delivery_denied(subject);
  }
  // Any thread: a message with this reply subject was delivered to the connection.
  void note_reply(std::string_view reply, Clock::time_point now = Clock::now());

  [[nodiscard]] std::size_t cached_verdicts() const { return pub_cache_.size(); }
  [[nodiscard]] std::size_t tracked_replies() const;

  // Bounds (nats-server: 128 verdicts pruned 32 at a time; replies pruned past 4,096).
  static constexpr std::size_t kMaxCachedVerdicts = 128;
  static constexpr std::size_t kPruneVerdicts = 32;
  static constexpr std::size_t kReplyPruneAt = 4096;
  static constexpr std::size_t kMaxReplies = 65536;  // ours: a hard cap whatever the expiry

 private:
  struct Reply {
    Clock::time_point at;
    int64_t uses = 0;
  };
  bool use_reply(std::string_view subject, Clock::time_point now);
  void prune_replies(Clock::time_point now, std::string_view keep);  // replies_mu_ held

  std::shared_ptr<const PermissionRules> rules_;
  std::unordered_map<std::string, bool> pub_cache_;
  std::atomic<bool> deny_filter_{false};
  mutable std::mutex replies_mu_;
  std::unordered_map<std::string, Reply> replies_;
  // The size past which note_reply() scans the table (replies_mu_). It grows with what a scan
  // leaves alive, so a table of live replies is not scanned again at every delivery.
  std::size_t prune_at_ = kReplyPruneAt;
};

// The `-ERR` texts, as nats-server words them (subjects quoted as Go's %q does).
[[nodiscard]] std::string publish_violation_text(std::string_view subject);
[[nodiscard]] std::string subscription_violation_text(std::string_view subject, std::string_view queue);
// After a reload took a subscription away.
[[nodiscard]] std::string removed_subscription_text(std::string_view subject, std::string_view sid);
// Go's %q for the subjects in these texts and in the log.
[[nodiscard]] std::string go_quote(std::string_view s);

}  // namespace forest::broker

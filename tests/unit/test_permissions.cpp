// The permission matcher (allow/deny, queue entries, the deny filter at delivery, reply
// subjects of allow_responses, the bounded verdict cache) and the permissions part of the
// config. The same rules run against nats-server in tests/e2e/test_permissions.cpp.
#include <catch2/catch.hpp>

#include "options.hpp"
#include "permissions.hpp"

using namespace forest::broker;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const PermissionRules> rules(Permissions p) { return std::make_shared<const PermissionRules>(std::move(p)); }

SubjectPermission allow_deny(std::vector<std::string> allow, std::vector<std::string> deny = {}) {
  SubjectPermission s;
  if (!allow.empty()) s.allow = std::move(allow);
  s.deny = std::move(deny);
  return s;
}

// The permissions of the first user of an authorization block.
std::shared_ptr<const PermissionRules> parsed(const std::string& conf) {
  Options o;
  auto r = apply_config_text(o, conf, "perm.conf");
  INFO((r ? std::string() : r.error()));
  REQUIRE(r);
  REQUIRE_FALSE(o.users.empty());
  return o.users.front().permissions;
}

}  // namespace

TEST_CASE("publish: allow, then deny; wildcards in both", "[permissions]") {
  ConnPermissions p(rules({allow_deny({"foo.>", "bar"}, {"foo.secret.*"}), std::nullopt, std::nullopt}));
  CHECK(p.may_publish("foo.a"));
  CHECK(p.may_publish("foo.a.b"));
  CHECK(p.may_publish("bar"));
  CHECK_FALSE(p.may_publish("baz"));
  CHECK_FALSE(p.may_publish("foo.secret.x"));  // deny beats allow
  CHECK(p.may_publish("foo.secret"));           // '*' needs a token
  // Deny alone: everything else passes.
  ConnPermissions d(rules({allow_deny({}, {"x.*"}), std::nullopt, std::nullopt}));
  CHECK(d.may_publish("x"));
  CHECK_FALSE(d.may_publish("x.y"));
  // No publish permission at all: no check.
  ConnPermissions none(rules({std::nullopt, allow_deny({"a"}), std::nullopt}));
  CHECK_FALSE(none.rules().restricts_publish());
  CHECK(none.may_publish("anything"));
}

TEST_CASE("publish verdicts are cached, within a bound", "[permissions]") {
  ConnPermissions p(rules({allow_deny({"ok.>"}), std::nullopt, std::nullopt}));
  for (int i = 0; i < 1000; ++i) {
    CHECK(p.may_publish("ok." + std::to_string(i)) );
    CHECK_FALSE(p.may_publish("no." + std::to_string(i)));
    CHECK(p.cached_verdicts() <= ConnPermissions::kMaxCachedVerdicts);
  }
  CHECK(p.cached_verdicts() > 0);
  CHECK(p.may_publish("ok.1"));  // verdicts stay right after pruning
  CHECK_FALSE(p.may_publish("no.1"));
}

TEST_CASE("subscribe: allow, deny, and a subscription's wildcards as tokens", "[permissions]") {
  ConnPermissions p(rules({std::nullopt, allow_deny({"foo.*", "bar.>"}, {"bar.secret"}), std::nullopt}));
  CHECK(p.may_subscribe("foo.a", ""));
  CHECK(p.may_subscribe("foo.*", ""));
  CHECK(p.may_subscribe("foo.>", ""));  // nats-server: '>' is a token '*' matches
  CHECK_FALSE(p.may_subscribe("foo", ""));
  CHECK_FALSE(p.may_subscribe("*", ""));
  CHECK_FALSE(p.may_subscribe(">", ""));
  CHECK(p.may_subscribe("bar.x.y", ""));
  CHECK_FALSE(p.may_subscribe("bar.secret", ""));
  CHECK_FALSE(p.may_subscribe("bar.secret", "q"));
}

TEST_CASE("subscribe: queue entries", "[permissions]") {
  ConnPermissions p(rules({std::nullopt, allow_deny({"work.* workers", "free", "v.> v1.*"}), std::nullopt}));
  CHECK_FALSE(p.may_subscribe("work.a", ""));  // only as a member of workers
  CHECK(p.may_subscribe("work.a", "workers"));
  CHECK_FALSE(p.may_subscribe("work.a", "other"));
  CHECK(p.may_subscribe("free", ""));
  CHECK(p.may_subscribe("free", "any"));
  CHECK(p.may_subscribe("v.x", "v1.a"));  // a wildcard queue name
  CHECK_FALSE(p.may_subscribe("v.x", "v2.a"));

  ConnPermissions d(rules({std::nullopt, allow_deny({}, {"foo", "foo q2", "jobs grp"}), std::nullopt}));
  CHECK_FALSE(d.may_subscribe("foo", ""));
  CHECK_FALSE(d.may_subscribe("foo", "q2"));
  // nats-server's rule: when queue entries match the subject they alone decide for a queue
  // subscription, so "foo" in the deny list does not refuse queue q1.
  CHECK(d.may_subscribe("foo", "q1"));
  CHECK(d.may_subscribe("jobs", ""));
  CHECK_FALSE(d.may_subscribe("jobs", "grp"));
  CHECK(d.may_subscribe("jobs", "other"));
}

TEST_CASE("a wildcard subscription covering a denied subject arms the delivery filter", "[permissions]") {
  ConnPermissions p(rules({std::nullopt, allow_deny({">"}, {"foo.secret", "bar.>"}), std::nullopt}));
  CHECK_FALSE(p.checks_deliveries());
  CHECK(p.may_subscribe("baz.*", ""));
  CHECK_FALSE(p.checks_deliveries());
  CHECK_FALSE(p.blocks_delivery("foo.secret"));
  CHECK(p.may_subscribe("foo.*", ""));
  CHECK(p.checks_deliveries());
  CHECK(p.blocks_delivery("foo.secret"));
  CHECK(p.blocks_delivery("bar.x"));  // the filter has every deny entry
  CHECK_FALSE(p.blocks_delivery("foo.public"));
  CHECK_FALSE(p.may_subscribe("bar.*", ""));  // "bar.*" is inside "bar.>": refused outright
}

TEST_CASE("allow_responses: replies received may be published to, max times, until they expire", "[permissions]") {
  Permissions cfg;
  cfg.publish = SubjectPermission{};
  cfg.publish->allow = std::vector<std::string>{};
  cfg.responses = ResponsePermission{2, std::chrono::seconds(10)};
  ConnPermissions p(rules(cfg));
  const auto t0 = ConnPermissions::Clock::now();
  CHECK_FALSE(p.may_publish("_INBOX.a", t0));
  p.note_reply("_INBOX.a", t0);
  p.note_reply("_INBOX.b", t0);
  CHECK(p.may_publish("_INBOX.a", t0));
  CHECK(p.may_publish("_INBOX.a", t0));
  CHECK_FALSE(p.may_publish("_INBOX.a", t0));  // a third time: used up, and forgotten
  CHECK(p.tracked_replies() == 1);
  CHECK_FALSE(p.may_publish("_INBOX.b", t0 + 11s));  // expired
  CHECK(p.tracked_replies() == 0);
  CHECK_FALSE(p.may_publish("other", t0));
}

TEST_CASE("allow_responses without limits keeps memory bounded", "[permissions]") {
  Permissions cfg;
  cfg.publish = SubjectPermission{};
  cfg.publish->allow = std::vector<std::string>{};
  cfg.responses = ResponsePermission{-1, std::chrono::nanoseconds(-1)};
  ConnPermissions p(rules(cfg));
  for (std::size_t i = 0; i < ConnPermissions::kMaxReplies + 5000; ++i) p.note_reply("r." + std::to_string(i));
  CHECK(p.tracked_replies() <= ConnPermissions::kMaxReplies);
}

TEST_CASE("allow_responses: expired replies are pruned while the table grows", "[permissions]") {
  Permissions cfg;
  cfg.publish = SubjectPermission{};
  cfg.publish->allow = std::vector<std::string>{};
  cfg.responses = ResponsePermission{1, std::chrono::seconds(10)};
  ConnPermissions p(rules(cfg));
  const auto t0 = ConnPermissions::Clock::now();
  for (int i = 0; i < 5000; ++i) p.note_reply("old." + std::to_string(i), t0);
  // Past the expiry, new replies: a scan drops the old ones (the table is scanned again only
  // once it has doubled, so it never holds more than twice what is live).
  for (int i = 0; i < 10000; ++i) p.note_reply("new." + std::to_string(i), t0 + 11s);
  CHECK(p.tracked_replies() <= 10000);
  CHECK_FALSE(p.may_publish("old.1", t0 + 11s));
  CHECK(p.may_publish("new.1", t0 + 11s));
}

TEST_CASE("allow_responses: at the hard cap the oldest replies go, the newest stay", "[permissions]") {
  Permissions cfg;
  cfg.publish = SubjectPermission{};
  cfg.publish->allow = std::vector<std::string>{};
  cfg.responses = ResponsePermission{-1, std::chrono::nanoseconds(-1)};  // no limit, no expiry
  ConnPermissions p(rules(cfg));
  const auto t0 = ConnPermissions::Clock::now();
  const std::size_t n = ConnPermissions::kMaxReplies + 1;
  for (std::size_t i = 0; i < n; ++i) p.note_reply("r." + std::to_string(i), t0 + std::chrono::microseconds(i));
  CHECK(p.tracked_replies() == ConnPermissions::kMaxReplies / 4 * 3);
  const auto later = t0 + std::chrono::seconds(1);
  CHECK_FALSE(p.may_publish("r.0", later));
  CHECK_FALSE(p.may_publish("r." + std::to_string(n - ConnPermissions::kMaxReplies / 4 * 3 - 1), later));
  CHECK(p.may_publish("r." + std::to_string(n - ConnPermissions::kMaxReplies / 4 * 3), later));
  CHECK(p.may_publish("r." + std::to_string(n - 1), later));  // the one that crossed the cap
}

TEST_CASE("the -ERR texts quote as Go's %q", "[permissions]") {
  CHECK(publish_violation_text("foo") == "Permissions Violation for Publish to \"foo\"");
  CHECK(subscription_violation_text("a.*", "") == "Permissions Violation for Subscription to \"a.*\"");
  CHECK(subscription_violation_text("a", "q") == "Permissions Violation for Subscription to \"a\" using queue \"q\"");
  CHECK(removed_subscription_text("a", "7") == "Permissions Violation for Subscription to \"a\" (sid \"7\")");
  CHECK(go_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
}

TEST_CASE("config: permissions in users and default_permissions", "[permissions][config]") {
  Options o;
  auto r = apply_config_text(o, R"(
authorization {
  users = [
    {user: a, password: a, permissions: { publish: "p.>", subscribe: { allow: ["s.*", "q.* grp"], deny: "s.x" } } }
    {user: b, password: b}
    {user: c, password: c, permission: { pub: { deny: ["d"] }, sub: [] } }
    {user: r, password: r, permissions: { subscribe: "req", allow_responses: { max: 3, expires: "1m" } } }
    {user: t, password: t, permissions: { allow_responses: true } }
  ]
  default_permissions: { publish: { allow: "def.>" } }
}
)", "perm.conf");
  INFO((r ? std::string() : r.error()));
  REQUIRE(r);
  REQUIRE(o.users.size() == 5);
  const Permissions& a = o.users[0].permissions->config();
  CHECK(a.publish->allow == std::vector<std::string>{"p.>"});
  CHECK(a.subscribe->allow == std::vector<std::string>{"s.*", "q.* grp"});
  CHECK(a.subscribe->deny == std::vector<std::string>{"s.x"});
  CHECK_FALSE(a.responses);
  // b has none of its own: the defaults, even though they come after the users.
  REQUIRE(o.users[1].permissions);
  CHECK(o.users[1].permissions->config().publish->allow == std::vector<std::string>{"def.>"});
  const Permissions& c = o.users[2].permissions->config();
  CHECK_FALSE(c.publish->allow);
  CHECK(c.publish->deny == std::vector<std::string>{"d"});
  CHECK_FALSE(c.subscribe->allow);  // an empty list allows everything
  const Permissions& rp = o.users[3].permissions->config();
  REQUIRE(rp.responses);
  CHECK(rp.responses->max_msgs == 3);
  CHECK(rp.responses->expires == std::chrono::minutes(1));
  // allow_responses without a publish allow list: replies only.
  REQUIRE(rp.publish);
  REQUIRE(rp.publish->allow);
  CHECK(rp.publish->allow->empty());
  const Permissions& t = o.users[4].permissions->config();
  REQUIRE(t.responses);
  CHECK(t.responses->max_msgs == kDefaultResponseMaxMsgs);
  CHECK(t.responses->expires == kDefaultResponseExpiration);
  ConnPermissions tp(o.users[4].permissions);
  CHECK_FALSE(tp.may_publish("anything"));
}

TEST_CASE("config: allow_responses 0 keeps the defaults, negatives mean no limit", "[permissions][config]") {
  auto zero = parsed("authorization { users = [ {user: a, password: a, permissions: { allow_responses: { max: 0 } } } ] }");
  CHECK(zero->config().responses->max_msgs == 1);
  CHECK(zero->config().responses->expires == std::chrono::minutes(2));
  auto neg = parsed(
      "authorization { users = [ {user: a, password: a, permissions: { allow_responses: { max: -1, ttl: \"-1s\" } } } ] }");
  CHECK(neg->config().responses->max_msgs == -1);
  CHECK(neg->config().responses->expires.count() < 0);
  auto off = parsed("authorization { users = [ {user: a, password: a, permissions: { allow_responses: false } } ] }");
  CHECK_FALSE(off->config().responses);
  CHECK_FALSE(off->restricts_publish());
}

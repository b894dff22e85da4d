// Subject index: wildcard and queue matching, cache invalidation on insert and remove, and
// concurrent publishers (cache lookups) while subscriptions churn.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "subject.hpp"
#include "sublist.hpp"

using namespace forest::broker;

namespace {

class NullSink : public MessageSink {
 public:
  bool deliver(Subscription&, const Delivery&) override { return true; }
};

SubPtr make_sub(const std::string& subject, const std::string& queue = "", const std::string& sid = "1") {
  static auto sink = std::make_shared<NullSink>();
  auto s = std::make_shared<Subscription>();
  s->sink = sink;
  s->subject = subject;
  s->queue = queue;
  s->sid = sid;
  return s;
}

std::set<std::string> plain_subjects(const MatchResult& r) {
  std::set<std::string> out;
  for (const auto& s : r.plain) out.insert(s->subject);
  return out;
}

}  // namespace

TEST_CASE("subject validity follows nats-server", "[subject]") {
  CHECK(is_valid_subject("foo"));
  CHECK(is_valid_subject("foo.bar.*"));
  CHECK(is_valid_subject("foo.>"));
  CHECK(is_valid_subject(">"));
  CHECK(is_valid_subject("foo*.bar"));  // '*' inside a token is a literal
  CHECK_FALSE(is_valid_subject(""));
  CHECK_FALSE(is_valid_subject("foo..bar"));
  CHECK_FALSE(is_valid_subject(".foo"));
  CHECK_FALSE(is_valid_subject("foo."));
  CHECK_FALSE(is_valid_subject(">.foo"));
  CHECK_FALSE(is_valid_subject("foo.>.bar"));
  CHECK_FALSE(is_valid_subject("foo bar"));
  CHECK(is_valid_literal_subject("foo.bar"));
  CHECK_FALSE(is_valid_literal_subject("foo.*"));
  CHECK_FALSE(is_valid_literal_subject("foo.>"));
  CHECK(subject_matches("foo.*", "foo.bar"));
  CHECK_FALSE(subject_matches("foo.*", "foo.bar.baz"));
  CHECK(subject_matches("foo.>", "foo.bar.baz"));
  CHECK_FALSE(subject_matches("foo.>", "foo"));
  CHECK(subject_matches("*.bar", "foo.bar"));
}

TEST_CASE("literal and wildcard matching", "[sublist]") {
  Sublist sl;
  for (const char* s : {"foo", "foo.bar", "foo.*", "foo.>", "*.bar", ">", "foo.bar.baz", "*.*.baz"}) {
    REQUIRE(sl.insert(make_sub(s)));
  }
  CHECK(sl.count() == 8);
  CHECK(plain_subjects(*sl.match("foo")) == std::set<std::string>{"foo", ">"});
  CHECK(plain_subjects(*sl.match("foo.bar")) == std::set<std::string>{"foo.bar", "foo.*", "foo.>", "*.bar", ">"});
  CHECK(plain_subjects(*sl.match("foo.bar.baz")) == std::set<std::string>{"foo.>", ">", "foo.bar.baz", "*.*.baz"});
  CHECK(plain_subjects(*sl.match("bar")) == std::set<std::string>{">"});
  CHECK(sl.match("a..b")->empty());
}

TEST_CASE("invalid subjects are refused", "[sublist]") {
  Sublist sl;
  CHECK_FALSE(sl.insert(make_sub("foo..bar")));
  CHECK_FALSE(sl.insert(make_sub("foo.>.bar")));
  CHECK_FALSE(sl.insert(make_sub("")));
  CHECK(sl.count() == 0);
}

TEST_CASE("queue groups merge across nodes by name", "[sublist]") {
  Sublist sl;
  REQUIRE(sl.insert(make_sub("foo.bar", "q1", "1")));
  REQUIRE(sl.insert(make_sub("foo.*", "q1", "2")));
  REQUIRE(sl.insert(make_sub("foo.>", "q2", "3")));
  REQUIRE(sl.insert(make_sub("foo.bar", "", "4")));
  const auto r = sl.match("foo.bar");
  CHECK(r->plain.size() == 1);
  REQUIRE(r->queues.size() == 2);
  for (const auto& g : r->queues) {
    if (g.name == "q1") CHECK(g.members.size() == 2);
    if (g.name == "q2") CHECK(g.members.size() == 1);
  }
}

TEST_CASE("remove prunes and is exact", "[sublist]") {
  Sublist sl;
  auto a = make_sub("foo.bar", "", "1");
  auto b = make_sub("foo.bar", "", "2");
  auto q = make_sub("foo.bar", "g", "3");
  REQUIRE(sl.insert(a));
  REQUIRE(sl.insert(b));
  REQUIRE(sl.insert(q));
  CHECK(sl.remove(a));
  CHECK_FALSE(sl.remove(a));
  CHECK(sl.match("foo.bar")->plain.size() == 1);
  CHECK(sl.remove(q));
  CHECK(sl.match("foo.bar")->queues.empty());
  CHECK(sl.remove(b));
  CHECK(sl.count() == 0);
  CHECK(sl.match("foo.bar")->empty());
  CHECK_FALSE(sl.remove(make_sub("never.there")));
}

TEST_CASE("match cache is invalidated by insert and remove", "[sublist]") {
  Sublist sl;
  MatchCache cache(sl);
  CHECK(cache.lookup("foo.bar")->empty());
  CHECK(cache.lookup("foo.bar")->empty());
  CHECK(cache.hits() == 1);
  auto s = make_sub("foo.*");
  REQUIRE(sl.insert(s));
  CHECK(cache.lookup("foo.bar")->plain.size() == 1);  // not the stale empty result
  REQUIRE(sl.remove(s));
  CHECK(cache.lookup("foo.bar")->empty());
  CHECK(cache.size() == 1);
  REQUIRE(sl.insert(make_sub("x")));
  cache.sweep();
  CHECK(cache.size() == 0);
}

TEST_CASE("match cache is bounded", "[sublist]") {
  Sublist sl;
  MatchCache cache(sl, 100);
  for (int i = 0; i < 1000; ++i) CHECK(cache.lookup("s." + std::to_string(i))->empty());
  CHECK(cache.size() <= 100);
}

TEST_CASE("concurrent publishers while subscriptions churn", "[sublist][concurrency]") {
  Sublist sl;
  // A stable subscription every lookup must always see, plus churn on overlapping subjects.
  auto stable = make_sub("orders.>", "", "stable");
  REQUIRE(sl.insert(stable));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0};
  std::atomic<bool> failed{false};

  std::vector<std::thread> publishers;
  for (int t = 0; t < 3; ++t) {
    publishers.emplace_back([&, t] {
      MatchCache cache(sl);
      uint64_t n = 0;
      while (!stop.load()) {
        const std::string subject = "orders." + std::to_string((n + static_cast<uint64_t>(t)) % 50);
        const auto& r = cache.lookup(subject);
        const bool has_stable = std::any_of(r->plain.begin(), r->plain.end(),
                                            [&](const SubPtr& s) { return s.get() == stable.get(); });
        if (!has_stable) failed.store(true);
        ++n;
      }
      lookups.fetch_add(n);
    });
  }
  std::thread churn([&] {
    for (int i = 0; i < 20000; ++i) {
      auto s = make_sub("orders." + std::to_string(i % 50), i % 3 == 0 ? "q" : "", std::to_string(i));
      if (!sl.insert(s) || !sl.remove(s)) failed.store(true);
    }
    stop.store(true);
  });
  churn.join();
  for (auto& p : publishers) p.join();
  CHECK_FALSE(failed.load());
  CHECK(lookups.load() > 0);
  CHECK(sl.count() == 1);

  // After the churn a fresh lookup sees exactly the stable subscription.
  MatchCache cache(sl);
  const auto& r = cache.lookup("orders.7");
  CHECK(r->plain.size() == 1);
  CHECK(r->queues.empty());
}

TEST_CASE("a cached result sees a subscription inserted after it was cached", "[sublist][concurrency]") {
  Sublist sl;
  MatchCache cache(sl);
  for (int round = 0; round < 1000; ++round) {
    const std::string subject = "r." + std::to_string(round);
    CHECK(cache.lookup(subject)->empty());
    auto s = make_sub(subject);
    bool inserted = false;
    std::thread inserter([&] { inserted = sl.insert(s); });
    inserter.join();
    REQUIRE(inserted);
    CHECK(cache.lookup(subject)->plain.size() == 1);
  }
}

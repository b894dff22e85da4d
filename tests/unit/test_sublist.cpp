// Subject index: wildcard and queue matching, cache invalidation on insert and remove, and
// concurrent publishers (cache lookups) while subscriptions churn.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "subject.hpp"
#include "match_cache.hpp"
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

// prefix + number by appending (GCC 12 reports a false -Wrestrict on operator+ chains).
std::string numbered(const std::string& prefix, std::size_t i) {
  std::string s(prefix);
  s += std::to_string(i);
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
}

TEST_CASE("a change only drops the cache entries it can affect", "[sublist]") {
  Sublist sl;
  MatchCache cache(sl);
  REQUIRE(sl.insert(make_sub("a.b")));
  for (const char* subject : {"a.b", "a.c", "x.y"}) (void)cache.lookup(subject);
  REQUIRE(cache.size() == 3);

  // A literal subscription touches its own subject only.
  auto literal = make_sub("a.c");
  REQUIRE(sl.insert(literal));
  const uint64_t hits = cache.hits();
  CHECK(cache.lookup("a.b")->plain.size() == 1);
  CHECK(cache.hits() == hits + 1);  // still cached
  CHECK(cache.size() == 2);         // "a.c" was dropped
  CHECK(cache.lookup("a.c")->plain.size() == 1);
  CHECK(cache.lookup("x.y")->empty());
  CHECK(cache.hits() == hits + 2);

  // A wildcard touches the subjects it matches.
  auto wildcard = make_sub("a.*");
  REQUIRE(sl.insert(wildcard));
  cache.sweep();  // catches up without a lookup
  CHECK(cache.size() == 1);  // only "x.y" is left
  CHECK(cache.lookup("a.b")->plain.size() == 2);
  CHECK(cache.lookup("a.c")->plain.size() == 2);
  REQUIRE(sl.remove(wildcard));
  CHECK(cache.lookup("a.b")->plain.size() == 1);
}

TEST_CASE("a cache far behind the change log marks entries stale and stays correct", "[sublist]") {
  Sublist sl;
  MatchCache cache(sl);
  for (int i = 0; i < 100; ++i) CHECK(cache.lookup(numbered("s.", i))->empty());
  // More changes than the log remembers, while the cache is not looking.
  std::vector<SubPtr> subs;
  for (std::size_t i = 0; i < Sublist::kChangeLogSize + 10; ++i) {
    subs.push_back(make_sub(numbered("s.", i)));
    REQUIRE(sl.insert(subs.back()));
  }
  CHECK(cache.lookup("s.5")->plain.size() == 1);   // recomputed, not the cached empty result
  CHECK(cache.lookup("s.99")->plain.size() == 1);
  CHECK(cache.size() == 100);
  cache.sweep();  // drops the stale ones nobody asked for again
  CHECK(cache.size() == 2);
  CHECK(cache.lookup("s.5")->plain.size() == 1);
}

TEST_CASE("match cache is bounded in entries and bytes", "[sublist]") {
  Sublist sl;
  MatchCache cache(sl, MatchCache::Limits{.min_entries = 100, .max_entries = 100, .max_bytes = 1u << 20});
  for (int i = 0; i < 1000; ++i) CHECK(cache.lookup(numbered("s.", i))->empty());
  CHECK(cache.size() <= 100);
  cache.sweep();
  CHECK(cache.size() <= 75);

  // Bytes: long subjects hit the byte limit long before the entry limit.
  MatchCache by_bytes(sl, MatchCache::Limits{.min_entries = 100000, .max_entries = 100000, .max_bytes = 64 * 1024});
  const std::string pad(1000, 'x');
  for (int i = 0; i < 1000; ++i) (void)by_bytes.lookup(numbered(pad + ".", static_cast<std::size_t>(i)));
  CHECK(by_bytes.bytes() <= 64 * 1024 + 4 * 1100);
  CHECK(by_bytes.size() < 100);
}

TEST_CASE("the entry limit follows the interest, within bounds", "[sublist]") {
  Sublist sl;
  MatchCache cache(sl, MatchCache::Limits{.min_entries = 10, .max_entries = 1000, .max_bytes = 1u << 30});
  CHECK(cache.entry_limit() == 10);
  std::vector<SubPtr> subs;
  for (int i = 0; i < 100; ++i) {
    subs.push_back(make_sub(numbered("t.", i)));
    REQUIRE(sl.insert(subs.back()));
  }
  CHECK(cache.entry_limit() == 200);
  for (int i = 0; i < 1000; ++i) {
    subs.push_back(make_sub(numbered("u.", i)));
    REQUIRE(sl.insert(subs.back()));
  }
  CHECK(cache.entry_limit() == 1000);
}

TEST_CASE("many subscriptions on one subject are removed exactly, in any order", "[sublist]") {
  Sublist sl;
  std::vector<SubPtr> subs;
  for (int i = 0; i < 20000; ++i) {
    subs.push_back(make_sub("churn.x", i % 4 == 0 ? numbered("q", i % 3) : "", std::to_string(i)));
    REQUIRE(sl.insert(subs.back()));
  }
  CHECK(sl.match("churn.x")->plain.size() == 15000);
  // Remove every third one singly, the rest as one batch.
  std::size_t single = 0;
  for (std::size_t i = 0; i < subs.size(); i += 3) {
    CHECK(sl.remove(subs[i]));
    CHECK_FALSE(sl.remove(subs[i]));
    ++single;
  }
  const uint64_t before = sl.generation();
  CHECK(sl.remove_batch(subs) == subs.size() - single);  // the removed ones are skipped
  CHECK(sl.generation() > before);
  CHECK(sl.generation() - before <= subs.size() / 1000 + 1);  // a step per slice, not per sub
  CHECK(sl.count() == 0);
  CHECK(sl.match("churn.x")->empty());
  CHECK(sl.remove_batch(subs) == 0);
}

TEST_CASE("many queue groups on one subject", "[sublist]") {
  Sublist sl;
  std::vector<SubPtr> subs;
  for (int i = 0; i < 5000; ++i) {
    subs.push_back(make_sub("jobs", numbered("g", i), std::to_string(i)));
    REQUIRE(sl.insert(subs.back()));
  }
  REQUIRE(sl.insert(make_sub("jobs", "g7", "extra")));
  REQUIRE(sl.insert(make_sub("*", "g7", "wild")));
  const auto r = sl.match("jobs");
  CHECK(r->queues.size() == 5000);
  std::size_t g7 = 0;
  for (const auto& g : r->queues) {
    if (g.name == "g7") g7 = g.members.size();
  }
  CHECK(g7 == 3);  // merged across the literal and the wildcard node
  CHECK(sl.remove_batch(subs) == 5000);
  CHECK(sl.match("jobs")->queues.size() == 1);
}

TEST_CASE("auto-unsubscribe limit set while publishers deliver", "[sublist][concurrency]") {
  // Publishers on several threads deliver while the limit is set: once it is visible no more
  // than `max` deliveries are ever counted, and the last allowed one (or the UNSUB) sees it.
  for (int round = 0; round < 200; ++round) {
    Subscription sub;
    const int64_t max = 50 + round % 7;
    std::atomic<bool> go{false};
    std::atomic<int> reached{0};
    std::atomic<uint64_t> taken{0};
    std::vector<std::thread> publishers;
    for (int t = 0; t < 3; ++t) {
      publishers.emplace_back([&] {
        while (!go.load()) {
        }
        for (int i = 0; i < 100; ++i) {
          bool r = false;
          if (try_count_delivery(sub, r)) taken.fetch_add(1);
          if (r) reached.fetch_add(1);
        }
      });
    }
    go.store(true);
    const bool now = set_delivery_limit(sub, max);
    for (auto& p : publishers) p.join();
    const uint64_t delivered = sub.delivered.load();
    CHECK(delivered == taken.load());
    // Deliveries counted before the limit was visible may pass it; none after.
    if (delivered > static_cast<uint64_t>(max)) CHECK(now);
    CHECK((now || reached.load() >= 1));
    bool r = false;
    CHECK_FALSE(try_count_delivery(sub, r));
  }
}

TEST_CASE("auto-unsubscribe counted for a run of deliveries at once", "[sublist]") {
  Subscription sub;
  bool reached = false;
  CHECK(try_count_deliveries(sub, 10, reached) == 10);  // no limit
  CHECK_FALSE(reached);
  REQUIRE_FALSE(set_delivery_limit(sub, 14));
  CHECK(try_count_deliveries(sub, 10, reached) == 4);  // the first four of the run
  CHECK(reached);
  reached = false;
  CHECK(try_count_deliveries(sub, 3, reached) == 0);
  CHECK_FALSE(reached);
  CHECK(sub.delivered.load() == 14);
}

TEST_CASE("auto-unsubscribe limit set while publishers deliver runs", "[sublist][concurrency]") {
  // As the single-delivery case above, with publishers counting runs of 1 to 7 at once.
  for (int round = 0; round < 200; ++round) {
    Subscription sub;
    const int64_t max = 50 + round % 7;
    std::atomic<bool> go{false};
    std::atomic<int> reached{0};
    std::atomic<uint64_t> taken{0};
    std::vector<std::thread> publishers;
    for (int t = 0; t < 3; ++t) {
      publishers.emplace_back([&, t] {
        while (!go.load()) {
        }
        for (int i = 0; i < 40; ++i) {
          bool r = false;
          taken.fetch_add(try_count_deliveries(sub, static_cast<uint64_t>(1 + (i + t) % 7), r));
          if (r) reached.fetch_add(1);
        }
      });
    }
    go.store(true);
    const bool now = set_delivery_limit(sub, max);
    for (auto& p : publishers) p.join();
    const uint64_t delivered = sub.delivered.load();
    CHECK(delivered == taken.load());
    if (delivered > static_cast<uint64_t>(max)) CHECK(now);
    CHECK((now || reached.load() >= 1));
    CHECK(reached.load() <= 1);
    bool r = false;
    CHECK(try_count_deliveries(sub, 2, r) == 0);
  }
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
        const std::string subject = numbered("orders.", (n + static_cast<uint64_t>(t)) % 50);
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
      auto s = make_sub(numbered("orders.", i % 50), i % 3 == 0 ? "q" : "", std::to_string(i));
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
    const std::string subject = numbered("r.", round);
    CHECK(cache.lookup(subject)->empty());
    auto s = make_sub(subject);
    bool inserted = false;
    std::thread inserter([&] { inserted = sl.insert(s); });
    inserter.join();
    REQUIRE(inserted);
    CHECK(cache.lookup(subject)->plain.size() == 1);
  }
}

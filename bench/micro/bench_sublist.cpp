// Subject index micro-benchmarks: cached hit, miss (no subscriber), wildcard fan-in, and
// 100,000 distinct subjects (the case where a small cache thrashes).
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "match_cache.hpp"
#include "sublist.hpp"

using namespace forest::broker;

namespace {

class NullSink : public MessageSink {
 public:
  bool deliver(Subscription&, const Delivery&) override { return true; }
};

SubPtr sub(const std::string& subject, const std::string& queue = "") {
  static auto sink = std::make_shared<NullSink>();
  auto s = std::make_shared<Subscription>();
  s->sink = sink;
  s->subject = subject;
  s->queue = queue;
  s->sid.push_back('1');  // (operator= from a literal trips a GCC 12 -Wrestrict false positive)
  return s;
}

// Appends instead of operator+ chains (GCC 12 reports a false -Wrestrict on those).
std::string subject_of(const char* prefix, int i, const char* suffix = "") {
  std::string s(prefix);
  s += std::to_string(i);
  s += suffix;
  return s;
}

}  // namespace

TEST_CASE("subject index", "[micro][sublist]") {
  Sublist sl;
  for (int i = 0; i < 1000; ++i) REQUIRE(sl.insert(sub(subject_of("orders.", i, ".new"))));
  REQUIRE(sl.insert(sub("orders.*.new")));
  REQUIRE(sl.insert(sub("orders.>")));
  REQUIRE(sl.insert(sub("orders.7.new", "workers")));
  std::vector<std::string> many;
  Sublist big;
  for (int i = 0; i < 100000; ++i) {
    many.push_back(subject_of("ms.", i));
    REQUIRE(big.insert(sub(many.back())));
  }

  MatchCache cache(sl);
  BENCHMARK("cached hit, same subject") { return cache.lookup("orders.7.new")->plain.size(); };
  int rotate = 0;
  BENCHMARK("cached hit, rotating over 100 subjects") {
    rotate = (rotate + 1) % 100;
    static std::vector<std::string> subjects = [] {
      std::vector<std::string> v;
      for (int i = 0; i < 100; ++i) v.push_back(subject_of("orders.", i, ".new"));
      return v;
    }();
    return cache.lookup(subjects[static_cast<std::size_t>(rotate)])->plain.size();
  };
  BENCHMARK("cached miss (no subscriber)") { return cache.lookup("nobody.listens.here")->empty(); };
  BENCHMARK("trie walk with wildcards (uncached)") { return sl.match("orders.7.new")->plain.size(); };
  MatchCache big_cache(big);
  std::size_t next = 0;
  BENCHMARK("100,000 subjects, round robin (cached)") {
    next = (next + 1) % many.size();
    return big_cache.lookup(many[next])->plain.size();
  };
  BENCHMARK("100,000 subjects, round robin (trie walk)") {
    next = (next + 1) % many.size();
    return big.match(many[next])->plain.size();
  };
}

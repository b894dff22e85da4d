// The bench's latency histogram: quantiles within its stated relative error.
#include <catch2/catch.hpp>

#include "../../bench/histogram.hpp"

using forest::bench::Histogram;

TEST_CASE("histogram quantiles stay within 1% of the exact value", "[histogram]") {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1us .. 100ms uniform
  CHECK(h.count() == 100000);
  CHECK(h.min() == 1000);
  CHECK(h.max() == 100000000);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = q * 100000 * 1000;
    const double got = static_cast<double>(h.quantile(q));
    INFO("q=" << q << " exact=" << exact << " got=" << got);
    CHECK(std::abs(got - exact) / exact < 0.01);
  }
}

TEST_CASE("histogram merge and small values", "[histogram]") {
  Histogram a, b;
  for (uint64_t v = 0; v < 100; ++v) a.record(v);
  for (uint64_t v = 0; v < 100; ++v) b.record(1000000 + v);
  a.merge(b);
  CHECK(a.count() == 200);
  CHECK(a.quantile(0.25) < 100);
  CHECK(a.quantile(0.75) >= 1000000);
  CHECK(Histogram().quantile(0.5) == 0);
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 1ull << 20, (1ull << 63) + 12345}) {
    const std::size_t i = Histogram::index(v);
    CHECK(i < Histogram::kBuckets);
    CHECK(Histogram::upper(i) >= v);
  }
}

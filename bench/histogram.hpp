// A log-linear latency histogram in the spirit of HDR: 128 linear sub-buckets per power of
// two (relative error under 0.8%), fixed memory, mergeable. Values are nanoseconds.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

namespace forest::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = 1u << kSubBits;
  static constexpr std::size_t kBuckets = kSub + (64 - kSubBits) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  void record(uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
  }
  void merge(const Histogram& o) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
  }
  [[nodiscard]] uint64_t count() const { return total_; }
  [[nodiscard]] uint64_t max() const { return total_ == 0 ? 0 : max_; }
  [[nodiscard]] uint64_t min() const { return total_ == 0 ? 0 : min_; }
  // The value at quantile q (0..1): the upper edge of the bucket holding it, capped at max.
  [[nodiscard]] uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    const auto want = static_cast<uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= want) return std::min(upper(i), max_);
    }
    return max_;
  }

  static std::size_t index(uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    const int k = 63 - std::countl_zero(v);
    const int shift = k - kSubBits;
    const uint64_t sub = (v >> shift) - kSub;
    return static_cast<std::size_t>(kSub + static_cast<uint64_t>(shift) * kSub + sub);
  }
  static uint64_t upper(std::size_t i) {
    if (i < kSub) return i;
    const uint64_t shift = (i - kSub) / kSub;
    const uint64_t sub = (i - kSub) % kSub;
    return ((kSub + sub + 1) << shift) - 1;
  }

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace forest::bench

// A connection's queued output as a list of chunks, so that a backlog never means copying what
// is already queued (a growing contiguous buffer re-copies and page-faults on every doubling),
// and whole staged batches are adopted without copying. Written out with one gathered write.
//
// Not thread-safe: the owning connection guards it with its outbound lock.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace forest::broker {

class OutboundQueue {
 public:
  static constexpr std::size_t kChunkSize = 64 * 1024;
  // A staged buffer at least this big becomes a chunk of its own instead of being copied.
  static constexpr std::size_t kAdoptThreshold = 4 * 1024;

  [[nodiscard]] bool empty() const { return bytes_ == 0; }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }

  void append(std::string_view data) {
    if (data.empty()) return;
    if (chunks_.empty() || chunks_.back().capacity() - chunks_.back().size() < data.size()) {
      chunks_.emplace_back();
      chunks_.back().reserve(std::max(kChunkSize, data.size()));
    }
    chunks_.back().append(data);
    bytes_ += data.size();
  }

  // Lets `write(std::string&)` append about `estimate` bytes to the last chunk directly (an
  // encoder writing in place, no scratch copy).
  template <typename Write>
  void append_with(std::size_t estimate, Write&& write) {
    if (chunks_.empty() || chunks_.back().capacity() - chunks_.back().size() < estimate) {
      chunks_.emplace_back();
      chunks_.back().reserve(std::max(kChunkSize, estimate));
    }
    std::string& tail = chunks_.back();
    const std::size_t before = tail.size();
    write(tail);
    bytes_ += tail.size() - before;
  }

  // Takes `data` (leaving it empty): adopted whole when big, else copied into the last chunk.
  void adopt(std::string& data) {
    if (data.size() < kAdoptThreshold) {
      append(data);
      data.clear();
      return;
    }
    bytes_ += data.size();
    chunks_.push_back(std::move(data));
    data = std::string();
  }

  // Moves every chunk into `out` (for a gathered write) and empties the queue.
  void take_all(std::vector<std::string>& out) {
    for (auto& c : chunks_) out.push_back(std::move(c));
    chunks_.clear();
    bytes_ = 0;
  }

  void clear() {
    std::deque<std::string>().swap(chunks_);
    bytes_ = 0;
  }

 private:
  std::deque<std::string> chunks_;
  std::size_t bytes_ = 0;
};

}  // namespace forest::broker

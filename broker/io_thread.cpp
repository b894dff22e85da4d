#include "io_thread.hpp"

#include <algorithm>

#include "account.hpp"

namespace forest::broker {
namespace {
thread_local IoThread* t_current = nullptr;
constexpr std::size_t kLinearScanLimit = 16;
constexpr std::size_t kKeptStagingBuffers = 64;
constexpr std::size_t kMaxKeptStaging = 1024 * 1024;
}  // namespace

IoThread::IoThread(uint32_t index) : index_(index), work_(asio::make_work_guard(ctx_)), ticker_(ctx_) {}

IoThread::~IoThread() {
  stop();
  join();
}

IoThread* IoThread::current() { return t_current; }

void IoThread::start() {
  schedule_tick();
  thread_ = std::thread([this] {
    t_current = this;
    ctx_.run();
    // Drop what this thread held before it goes (subscriptions keep connections alive).
    pending_.clear();
    flushing_.clear();
    caches_.clear();
    t_current = nullptr;
  });
}

void IoThread::stop() {
  work_.reset();
  ctx_.stop();
}

void IoThread::join() {
  if (thread_.joinable()) thread_.join();
}

void IoThread::schedule_tick() {
  ticker_.expires_after(kTickInterval);
  ticker_.async_wait([this](const error_code& ec) {
    if (ec) return;
    tick_cursor_ = 0;
    tick_slice(std::chrono::steady_clock::now());
  });
}

void IoThread::tick_slice(std::chrono::steady_clock::time_point now) {
  // A slice of connections per turn of the event loop, so that 10,000 connections sending
  // their PINGs in one tick do not hold up every other connection of the thread meanwhile.
  // on_tick may close a connection, which swaps the last one into its slot: that one waits
  // for the next tick, which is harmless.
  constexpr std::size_t kTickSlice = 256;
  for (std::size_t n = 0; n < kTickSlice && tick_cursor_ < tickables_.size(); ++n) {
    tickables_[tick_cursor_++]->on_tick(now);
  }
  if (tick_cursor_ < tickables_.size()) {
    asio::post(ctx_, [this, now] { tick_slice(now); });
    return;
  }
  uint64_t hits = 0, misses = 0, entries = 0;
  for (auto& cache : caches_) {
    if (!cache) continue;
    cache->sweep();
    hits += cache->hits();
    misses += cache->misses();
    entries += cache->size();
  }
  cache_hits.store(hits, std::memory_order_relaxed);
  cache_misses.store(misses, std::memory_order_relaxed);
  cache_entries.store(entries, std::memory_order_relaxed);
  schedule_tick();
}

StagedOutput& IoThread::stage_for(FlushTarget& target) {
  FlushTarget* raw = &target;
  if (pending_count_ > 0 && pending_[pending_count_ - 1].target.get() == raw) {
    return pending_[pending_count_ - 1].staged;
  }
  if (pending_count_ <= kLinearScanLimit) {
    for (std::size_t i = 0; i < pending_count_; ++i) {
      if (pending_[i].target.get() == raw) return pending_[i].staged;
    }
  } else {
    auto it = pending_index_.find(raw);
    if (it != pending_index_.end()) return pending_[it->second].staged;
  }
  if (pending_count_ == pending_.size()) pending_.emplace_back();
  Pending& p = pending_[pending_count_];
  p.target = target.flush_ref();
  if (pending_count_ >= kLinearScanLimit) {
    if (pending_count_ == kLinearScanLimit) {
      for (std::size_t i = 0; i < pending_count_; ++i) pending_index_.emplace(pending_[i].target.get(), i);
    }
    pending_index_.emplace(raw, pending_count_);
  }
  ++pending_count_;
  return p.staged;
}

void IoThread::flush_pending() {
  in_batch_ = false;
  // Handing over can close a connection, which can stage again: loop until nothing is left.
  while (pending_count_ > 0) {
    const std::size_t n = pending_count_;
    pending_count_ = 0;
    pending_index_.clear();
    std::swap(pending_, flushing_);  // staging during the hand-over starts a fresh list
    for (std::size_t i = 0; i < n; ++i) {
      Pending& p = flushing_[i];
      if (!p.staged.bytes.empty() && !p.target->take_staged(p.staged)) continue;  // sent already
      if (&p.target->owner() == this) {
        p.target->flush_now();
      } else {
        p.target->post_flush();
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      Pending& p = flushing_[i];
      p.target.reset();
      p.staged.bytes.clear();
      p.staged.msgs = p.staged.payload_bytes = 0;
      // Bound what a thread keeps after a burst: a few big buffers for its busiest receivers,
      // nothing for the long tail of a wide fan-out.
      if (i >= kKeptStagingBuffers || p.staged.bytes.capacity() > kMaxKeptStaging) std::string().swap(p.staged.bytes);
    }
    if (pending_count_ == 0) std::swap(pending_, flushing_);  // the buffers come back for reuse
  }
  producer_ = nullptr;
}

MatchCache& IoThread::cache_for(const Account& account) {
  const uint32_t i = account.index();
  if (i >= caches_.size()) caches_.resize(i + 1);
  if (!caches_[i]) {
    caches_[i] = std::make_unique<MatchCache>(account.sublist());
  }
  return *caches_[i];
}

void IoThread::add_tickable(Tickable* t) {
  t->tick_slot_ = tickables_.size();
  tickables_.push_back(t);
}

void IoThread::remove_tickable(Tickable* t) {
  const std::size_t slot = t->tick_slot_;
  if (slot == SIZE_MAX || slot >= tickables_.size() || tickables_[slot] != t) return;
  tickables_[slot] = tickables_.back();
  tickables_[slot]->tick_slot_ = slot;
  tickables_.pop_back();
  t->tick_slot_ = SIZE_MAX;
}

void schedule_flush(FlushTarget& target) {
  IoThread* t = IoThread::current();
  if (t != nullptr && t->in_batch()) {
    t->mark_for_flush(target);  // flushed with the rest of the batch
  } else if (t != nullptr && &target.owner() == t) {
    target.flush_now();
  } else {
    target.post_flush();
  }
}

}  // namespace forest::broker

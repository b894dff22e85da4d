#include "io_thread.hpp"

#include <algorithm>

#include "account.hpp"

namespace forest::broker {
namespace {
thread_local IoThread* t_current = nullptr;
constexpr std::size_t kLinearScanLimit = 16;
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
    const auto now = std::chrono::steady_clock::now();
    // on_tick may close a connection, which removes it from the list: iterate over a copy.
    std::vector<Tickable*> snapshot = tickables_;
    for (Tickable* t : snapshot) {
      if (t->tick_slot_ != SIZE_MAX) t->on_tick(now);
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
  });
}

void IoThread::mark_for_flush(FlushTarget& target) {
  FlushTarget* raw = &target;
  if (!pending_.empty() && pending_.back().get() == raw) return;
  if (pending_.size() < kLinearScanLimit) {
    for (const auto& p : pending_) {
      if (p.get() == raw) return;
    }
    pending_.push_back(target.flush_ref());
    if (pending_.size() == kLinearScanLimit) {
      for (const auto& p : pending_) pending_set_.insert(p.get());
    }
    return;
  }
  if (pending_set_.insert(raw).second) pending_.push_back(target.flush_ref());
}

void IoThread::flush_pending() {
  if (pending_.empty()) return;
  // Swap out first: flushing may close a connection, which may mark others.
  std::vector<std::shared_ptr<FlushTarget>> batch;
  batch.swap(pending_);
  pending_set_.clear();
  for (auto& target : batch) {
    if (&target->owner() == this) {
      target->flush_now();
    } else {
      target->post_flush();
    }
  }
  batch.clear();
  if (pending_.empty()) pending_.swap(batch);  // keep the capacity
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
  if (IoThread* t = IoThread::current()) {
    t->mark_for_flush(target);
  } else {
    target.post_flush();
  }
}

}  // namespace forest::broker

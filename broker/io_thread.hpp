// One I/O thread: an io_context run by one std::thread. Connections are pinned to one
// IoThread for life, so their reads, parsing and writes need no locks.
//
// Per-thread state lives here: the match caches (one per account), the set of receivers that
// got data during the current read batch (flushed once at the end of the batch), and a ticker
// that drives ping, auth and write deadlines for all connections of the thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "asio.hpp"
#include "match_cache.hpp"

namespace forest::broker {

class Account;
class IoThread;

// Bytes a publisher thread collected for one receiver during a read batch, handed over in
// one piece at the end of the batch.
struct StagedOutput {
  std::string bytes;
  uint64_t msgs = 0;
  uint64_t payload_bytes = 0;
};

// Something with an outbound buffer, flushed by the thread that owns it.
class FlushTarget {
 public:
  virtual ~FlushTarget() = default;
  virtual IoThread& owner() const = 0;
  // A strong reference, taken only the first time a batch marks this target.
  virtual std::shared_ptr<FlushTarget> flush_ref() = 0;
  // Takes what a batch staged for it: sends it right away when it can, else queues it (under
  // its own lock). Returns true when its owner still has to write something.
  virtual bool take_staged(StagedOutput& staged) = 0;
  virtual void flush_now() = 0;   // on the owning thread
  virtual void post_flush() = 0;  // from any other thread: at most one wake-up in flight
};

// A producer whose reads can pause while a receiver it fills drains (nats-server stalls a
// fast client producer when a receiver is past half its max_pending, instead of cutting the
// receiver at once). Only its own reads pause; the other connections of its thread go on.
class StallableProducer {
 public:
  virtual ~StallableProducer() = default;
  [[nodiscard]] virtual std::weak_ptr<StallableProducer> stall_ref() = 0;
  // Identifies the stall about to begin (the one a receiver registers for).
  [[nodiscard]] virtual uint64_t stall_epoch() const = 0;
  // From any thread: the receiver drained; ends stall `epoch` if it is still the current one.
  virtual void resume_after_stall(uint64_t epoch) = 0;
};

// A connection that wants the per-thread tick (ping, auth and write deadlines).
class Tickable {
 public:
  virtual ~Tickable() = default;
  virtual void on_tick(std::chrono::steady_clock::time_point now) = 0;
  std::size_t tick_slot_ = SIZE_MAX;  // position in the thread's list, managed by IoThread
};

class IoThread {
 public:
  static constexpr auto kTickInterval = std::chrono::milliseconds(250);

  explicit IoThread(uint32_t index);
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  void start();
  void stop();  // stops the context; join() waits
  void join();

  [[nodiscard]] asio::io_context& context() { return ctx_; }
  [[nodiscard]] uint32_t index() const { return index_; }
  [[nodiscard]] bool in_this_thread() const { return current() == this; }

  // The IoThread running on the calling thread, or nullptr.
  [[nodiscard]] static IoThread* current();

  // A read batch: between begin_batch() and flush_pending(), output for receivers is staged
  // per receiver without taking their locks, then handed over once per receiver.
  // `producer`: the connection whose input this batch is, if it may be stalled.
  void begin_batch(StallableProducer* producer = nullptr) {
    in_batch_ = true;
    producer_ = producer;
  }
  [[nodiscard]] bool in_batch() const { return in_batch_; }
  // During a batch's hand-over: the producer of the batch (nullptr if none may stall).
  [[nodiscard]] StallableProducer* batch_producer() const { return producer_; }
  // A receiver asks the batch's producer to pause for up to `d` (the longest request wins).
  void request_stall(std::chrono::steady_clock::duration d) { stall_ = std::max(stall_, d); }
  // After flush_pending(): how long the producer of the batch should pause (zero: not at all).
  [[nodiscard]] std::chrono::steady_clock::duration take_stall() { return std::exchange(stall_, {}); }
  // The staging buffer for `target` in the current batch. Finding it again costs a pointer
  // compare (or a hash lookup past a few receivers), no reference count traffic.
  StagedOutput& stage_for(FlushTarget& target);
  // Records that `target` has new outbound data (already in its buffer); flushed at the end
  // of the batch.
  void mark_for_flush(FlushTarget& target) { (void)stage_for(target); }
  // End of a read batch: hands staged bytes over, writes to local receivers, one wake-up per
  // remote receiver.
  void flush_pending();

  // Match cache of this thread for an account (created on first use).
  MatchCache& cache_for(const Account& account);

  // Ticker registration; on the owning thread only.
  void add_tickable(Tickable* t);
  void remove_tickable(Tickable* t);

  // Messages and bytes delivered by publishers running on this thread.
  std::atomic<uint64_t> out_msgs{0};
  std::atomic<uint64_t> out_bytes{0};
  void count_out(uint64_t bytes) {
    if (forward_msgs_ != nullptr) {
      forward_msgs_->fetch_add(1, std::memory_order_relaxed);
      forward_bytes_->fetch_add(bytes, std::memory_order_relaxed);
      return;
    }
    out_msgs.store(out_msgs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    out_bytes.store(out_bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
  }
  // A thread the server does not sum in /varz (an in-process connection's dispatch thread)
  // counts into these instead (the server's counters); before start().
  void forward_counts_to(std::atomic<uint64_t>* msgs, std::atomic<uint64_t>* bytes) {
    forward_msgs_ = msgs;
    forward_bytes_ = bytes;
  }

  // Cache statistics over all accounts, refreshed every tick (readable from any thread).
  std::atomic<uint64_t> cache_hits{0};
  std::atomic<uint64_t> cache_misses{0};
  std::atomic<uint64_t> cache_entries{0};

 private:
  void schedule_tick();
  void tick_slice(std::chrono::steady_clock::time_point now);

  uint32_t index_;
  asio::io_context ctx_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer ticker_;
  std::thread thread_;

  struct Pending {
    std::shared_ptr<FlushTarget> target;
    StagedOutput staged;
  };
  // Entries [0, pending_count_) are this batch's; the rest keep their buffers for reuse.
  std::vector<Pending> pending_;
  std::vector<Pending> flushing_;  // the batch being handed over
  std::size_t pending_count_ = 0;
  std::unordered_map<FlushTarget*, std::size_t> pending_index_;  // once there are many receivers
  bool in_batch_ = false;
  StallableProducer* producer_ = nullptr;
  std::chrono::steady_clock::duration stall_{};
  std::vector<std::unique_ptr<MatchCache>> caches_;  // by account index
  std::vector<Tickable*> tickables_;
  std::atomic<uint64_t>* forward_msgs_ = nullptr;
  std::atomic<uint64_t>* forward_bytes_ = nullptr;
  std::size_t tick_cursor_ = 0;  // next tickable of the tick in progress
};

// Schedules a flush of `target` from whatever thread we are on: batched inside a read batch,
// at once on its own thread otherwise, posted from any other thread (internal publishers).
void schedule_flush(FlushTarget& target);

}  // namespace forest::broker

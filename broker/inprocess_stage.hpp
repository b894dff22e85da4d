// A batch's deliveries to in-process receivers (InProcessConn::publish_batch): while a batch
// routes, deliver() on this thread appends to the batch's buffer for that receiver instead of
// taking the receiver's lock per message; at the end each receiver takes its messages under
// one lock (take_staged), as a TCP client's outbound buffer takes a read batch's.
//
// Entry lifetime: a staged message points at its subscription's entry before any lock of the
// receiver is taken. The receiver's stagers_ count, raised before the subscription's closed
// flag is read, keeps retired entries alive and holds close_with() back until the batch
// handed over (see InProcessConn::stagers_).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "inprocess_conn.hpp"

namespace forest::broker {

struct InProcessConn::Staged {
  std::shared_ptr<InProcessConn> receiver;
  std::vector<Queued> queue;
  std::string arena;  // offsets in `queue` are into this
  std::size_t bytes = 0;  // payload bytes
};

class InProcessConn::Stage {
 public:
  // Makes this the thread's current stage (deliver() stages into it) until hand_over().
  Stage();
  ~Stage();  // hands over what is left (a batch ended by an exception)
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  [[nodiscard]] static Stage* current();
  // The receiver's buffer; the first call for a receiver raises its stagers_ count.
  Staged& slot_for(InProcessConn& receiver);
  // Ends staging on this thread; each receiver takes its messages (and lowers stagers_).
  void hand_over();

 private:
  // Emptied buffers of earlier batches on this thread. A receiver's take_staged() swaps its
  // own empty queue in (the one its dispatch thread drained), so buffers go round between
  // the publisher and the receivers instead of being allocated per batch and freed on
  // another thread.
  struct Spare {
    std::vector<Queued> queue;
    std::string arena;
  };
  static thread_local std::vector<Spare> t_spares;
  static constexpr std::size_t kMaxSpares = 8;
  static constexpr std::size_t kMaxSpareArena = 1u << 20;  // larger ones are freed

  static thread_local Stage* t_stage;  // this thread's, while a batch routes
  Stage* previous_;
  bool active_ = true;
  boost::container::small_vector<Staged, 2> slots_;  // one per receiver, few: no allocation
  std::size_t last_ = 0;       // the slot found last: a batch mostly goes to one receiver
};

}  // namespace forest::broker

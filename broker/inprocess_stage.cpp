#include "inprocess_stage.hpp"

namespace forest::broker {

thread_local InProcessConn::Stage* InProcessConn::Stage::t_stage = nullptr;
thread_local std::vector<InProcessConn::Stage::Spare> InProcessConn::Stage::t_spares;

InProcessConn::Stage::Stage() : previous_(t_stage) { t_stage = this; }

InProcessConn::Stage::~Stage() { hand_over(); }

InProcessConn::Stage* InProcessConn::Stage::current() { return t_stage; }

InProcessConn::Staged& InProcessConn::Stage::slot_for(InProcessConn& receiver) {
  if (last_ < slots_.size() && slots_[last_].receiver.get() == &receiver) return slots_[last_];
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].receiver.get() == &receiver) {
      last_ = i;
      return slots_[i];
    }
  }
  // Before the caller reads any closed flag of the receiver's subscriptions (stagers_).
  receiver.stagers_.fetch_add(1);
  Staged& slot = slots_.emplace_back(Staged{receiver.shared_from_this(), {}, {}, 0});
  if (!t_spares.empty()) {
    slot.queue = std::move(t_spares.back().queue);
    slot.arena = std::move(t_spares.back().arena);
    t_spares.pop_back();
  }
  last_ = slots_.size() - 1;
  return slots_.back();
}

void InProcessConn::Stage::hand_over() {
  if (!active_) return;
  active_ = false;
  t_stage = previous_;
  for (Staged& s : slots_) {
    s.receiver->take_staged(s);
    if (t_spares.size() < kMaxSpares && s.arena.capacity() <= kMaxSpareArena) {
      s.queue.clear();
      s.arena.clear();
      t_spares.push_back(Spare{std::move(s.queue), std::move(s.arena)});
    }
  }
  slots_.clear();
}

}  // namespace forest::broker

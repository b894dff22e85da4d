#include "inprocess_stage.hpp"

namespace forest::broker {

thread_local InProcessConn::Stage* InProcessConn::Stage::t_stage = nullptr;

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
  slots_.push_back(Staged{receiver.shared_from_this(), {}, {}, 0});
  last_ = slots_.size() - 1;
  return slots_.back();
}

void InProcessConn::Stage::hand_over() {
  if (!active_) return;
  active_ = false;
  t_stage = previous_;
  for (Staged& s : slots_) s.receiver->take_staged(s);
  slots_.clear();
}

}  // namespace forest::broker

#include "sublist.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "subject.hpp"

namespace forest::broker {

using QueueMap = std::unordered_map<std::string, std::vector<SubPtr>, StringHash, std::equal_to<>>;

struct Sublist::Node {
  std::unique_ptr<Level> next;
  std::vector<SubPtr> plain;         // each member's index_slot is its position here
  std::unique_ptr<QueueMap> queues;  // by queue name; most nodes have none

  [[nodiscard]] bool empty() const { return plain.empty() && (!queues || queues->empty()) && next == nullptr; }
};

struct Sublist::Level {
  std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>> literal;
  std::unique_ptr<Node> star;  // '*'
  std::unique_ptr<Node> tail;  // '>'

  [[nodiscard]] bool empty() const { return literal.empty() && star == nullptr && tail == nullptr; }
};

namespace {

constexpr std::size_t kMaxStackTokens = 32;
// Subscriptions removed under one hold of the writer lock (remove_batch).
constexpr std::size_t kRemoveSlice = 1024;

// A subject's tokens: on the stack for ordinary subjects, on the heap past 32 tokens.
class Tokens {
 public:
  explicit Tokens(std::string_view subject) : n_(tokenize_subject(subject, stack_, kMaxStackTokens)) {
    if (n_ > kMaxStackTokens) {
      heap_.resize(n_);
      tokenize_subject(subject, heap_.data(), n_);
    }
  }
  [[nodiscard]] const std::string_view* data() const { return n_ > kMaxStackTokens ? heap_.data() : stack_; }
  [[nodiscard]] std::size_t size() const { return n_; }

 private:
  std::string_view stack_[kMaxStackTokens];
  std::vector<std::string_view> heap_;
  std::size_t n_;
};

// The one empty result, shared without a reference count (no control block): a subject
// nobody listens to costs no allocation, however often it is looked up.
const MatchResult kEmptyResult;
MatchResultPtr empty_result() { return MatchResultPtr(MatchResultPtr(), &kEmptyResult); }

// Collects a node's subscriptions into a result. Queue groups of several nodes are merged by
// name at the end (see merge_queue_groups).
template <typename NodeT>
void add_node(const NodeT& node, MatchResult& out, int& queue_sources) {
  out.plain.insert(out.plain.end(), node.plain.begin(), node.plain.end());
  if (!node.queues || node.queues->empty()) return;
  ++queue_sources;
  for (const auto& [name, members] : *node.queues) out.queues.push_back(QueueGroup{members.front()->queue, members, 0, {}});
}

void merge_queue_groups(std::vector<QueueGroup>& groups) {
  std::sort(groups.begin(), groups.end(), [](const QueueGroup& a, const QueueGroup& b) { return a.name < b.name; });
  std::size_t out = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (out > 0 && groups[out - 1].name == groups[i].name) {
      auto& m = groups[out - 1].members;
      m.insert(m.end(), groups[i].members.begin(), groups[i].members.end());
    } else {
      if (out != i) groups[out] = std::move(groups[i]);
      ++out;
    }
  }
  groups.resize(out);
}

template <typename LevelT>
void match_level(const LevelT* level, const std::string_view* tokens, std::size_t count, std::size_t i,
                 MatchResult& out, int& queue_sources) {
  while (level != nullptr) {
    if (level->tail) add_node(*level->tail, out, queue_sources);
    const bool last = i + 1 == count;
    if (level->star) {
      if (last) {
        add_node(*level->star, out, queue_sources);
      } else {
        match_level(level->star->next.get(), tokens, count, i + 1, out, queue_sources);
      }
    }
    auto it = level->literal.find(tokens[i]);
    if (it == level->literal.end()) return;
    if (last) {
      add_node(*it->second, out, queue_sources);
      return;
    }
    level = it->second->next.get();
    ++i;
  }
}

// Swap-remove of `sub` from the list its index_slot points into; false when it is not there.
bool erase_by_slot(std::vector<SubPtr>& list, const SubPtr& sub) {
  const uint32_t slot = sub->index_slot;
  if (slot >= list.size() || list[slot] != sub) return false;
  if (slot + 1 != list.size()) {
    list[slot] = std::move(list.back());
    list[slot]->index_slot = slot;
  }
  list.pop_back();
  sub->index_slot = Subscription::kNotIndexed;
  return true;
}

void append_indexed(std::vector<SubPtr>& list, const SubPtr& sub) {
  sub->index_slot = static_cast<uint32_t>(list.size());
  list.push_back(sub);
}

}  // namespace

std::size_t MatchResult::footprint() const {
  std::size_t n = sizeof(MatchResult) + (plain.capacity() + routes.capacity()) * sizeof(SubPtr) +
                  queues.capacity() * sizeof(QueueGroup);
  for (const auto& g : queues) n += g.members.capacity() * sizeof(SubPtr) + g.weight_ends.capacity() * sizeof(uint32_t);
  return n;
}

Sublist::Sublist() : root_(std::make_unique<Level>()), changes_(kChangeLogSize) {}
Sublist::~Sublist() = default;

void Sublist::log_change(std::string_view subject, uint64_t generation) {
  if (change_count_ > 0) {
    Change& last = changes_[(change_next_ + kChangeLogSize - 1) % kChangeLogSize];
    if (last.subject == subject) {  // a run of changes to one subject is one record
      last.generation = generation;
      return;
    }
  }
  Change& c = changes_[change_next_];
  if (change_count_ == kChangeLogSize) {
    forgotten_generation_ = std::max(forgotten_generation_, c.generation);
  } else {
    ++change_count_;
  }
  c.generation = generation;
  // A slot that once held a long subject does not keep its memory for short ones.
  if (c.subject.capacity() > 256 && subject.size() <= 256) std::string().swap(c.subject);
  c.subject.assign(subject);
  c.wildcard = has_wildcard(subject);
  change_next_ = (change_next_ + 1) % kChangeLogSize;
}

bool Sublist::insert(const SubPtr& sub) {
  if (!is_valid_subject(sub->subject)) return false;
  const Tokens split(sub->subject);
  const std::string_view* tokens = split.data();
  const std::size_t n = split.size();

  std::unique_lock lock(mu_);
  Level* level = root_.get();
  Node* node = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view t = tokens[i];
    std::unique_ptr<Node>* slot;
    if (t == "*") {
      slot = &level->star;
    } else if (t == ">") {
      slot = &level->tail;
    } else {
      auto it = level->literal.find(t);
      if (it == level->literal.end()) it = level->literal.emplace(std::string(t), nullptr).first;
      slot = &it->second;
    }
    if (!*slot) *slot = std::make_unique<Node>();
    node = slot->get();
    if (i + 1 < n) {
      if (!node->next) node->next = std::make_unique<Level>();
      level = node->next.get();
    }
  }
  if (sub->queue.empty()) {
    append_indexed(node->plain, sub);
  } else {
    if (!node->queues) node->queues = std::make_unique<QueueMap>();
    auto it = node->queues->find(sub->queue);
    if (it == node->queues->end()) it = node->queues->emplace(sub->queue, std::vector<SubPtr>{}).first;
    append_indexed(it->second, sub);
  }
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  log_change(sub->subject, gen);
  count_.fetch_add(1, std::memory_order_relaxed);
  inserts_.fetch_add(1, std::memory_order_relaxed);
  generation_.store(gen, std::memory_order_release);
  return true;
}

bool Sublist::remove_locked(const SubPtr& sub) {
  if (sub->index_slot == Subscription::kNotIndexed) return false;
  const Tokens split(sub->subject);
  const std::string_view* tokens = split.data();
  const std::size_t n = split.size();

  // The path walked (levels), so empty nodes can be pruned bottom-up.
  Level* stack_path[kMaxStackTokens];
  std::vector<Level*> heap_path;
  Level** path = stack_path;
  if (n > kMaxStackTokens) {
    heap_path.resize(n);
    path = heap_path.data();
  }
  auto slot_of = [](Level* lv, std::string_view t) -> std::unique_ptr<Node>* {
    if (t == "*") return &lv->star;
    if (t == ">") return &lv->tail;
    auto it = lv->literal.find(t);
    return it == lv->literal.end() ? nullptr : &it->second;
  };
  Level* level = root_.get();
  Node* node = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    if (level == nullptr) return false;
    path[i] = level;
    std::unique_ptr<Node>* slot = slot_of(level, tokens[i]);
    node = slot != nullptr ? slot->get() : nullptr;
    if (node == nullptr) return false;
    level = node->next.get();
  }
  if (node == nullptr) return false;

  if (sub->queue.empty()) {
    if (!erase_by_slot(node->plain, sub)) return false;
  } else {
    if (!node->queues) return false;
    auto q = node->queues->find(sub->queue);
    if (q == node->queues->end() || !erase_by_slot(q->second, sub)) return false;
    if (q->second.empty()) node->queues->erase(q);
    if (node->queues->empty()) node->queues.reset();
  }

  // Prune empty nodes and levels from the leaf up.
  for (std::size_t i = n; i-- > 0;) {
    Level* lv = path[i];
    const std::string_view t = tokens[i];
    std::unique_ptr<Node>* slot = slot_of(lv, t);
    Node* nd = slot->get();
    if (nd->next && nd->next->empty()) nd->next.reset();
    if (!nd->empty()) break;
    if (t == "*" || t == ">") {
      slot->reset();
    } else {
      lv->literal.erase(lv->literal.find(t));
    }
  }
  count_.fetch_sub(1, std::memory_order_relaxed);
  removes_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool Sublist::remove(const SubPtr& sub) {
  std::unique_lock lock(mu_);
  if (!remove_locked(sub)) return false;
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  log_change(sub->subject, gen);
  generation_.store(gen, std::memory_order_release);
  return true;
}

std::size_t Sublist::remove_batch(std::span<const SubPtr> subs, std::vector<SubPtr>* removed_out) {
  std::size_t removed = 0;
  std::unordered_set<std::string_view> logged;
  for (std::size_t start = 0; start < subs.size(); start += kRemoveSlice) {
    const auto slice = subs.subspan(start, std::min(kRemoveSlice, subs.size() - start));
    std::unique_lock lock(mu_);
    const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
    logged.clear();
    std::size_t here = 0;
    for (const SubPtr& sub : slice) {
      if (!remove_locked(sub)) continue;
      ++here;
      if (removed_out != nullptr) removed_out->push_back(sub);
      if (logged.insert(sub->subject).second) log_change(sub->subject, gen);
    }
    if (here > 0) generation_.store(gen, std::memory_order_release);
    removed += here;
  }
  return removed;
}

void Sublist::update_weight(const SubPtr& sub, int32_t weight) {
  std::unique_lock lock(mu_);
  sub->queue_weight = weight;
  if (sub->index_slot == Subscription::kNotIndexed) return;
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  log_change(sub->subject, gen);
  generation_.store(gen, std::memory_order_release);
}

namespace {

// Splits what the trie walk collected into local and remote parts: remote plain interest
// becomes one entry per route (a route gets one copy of a message however many of its
// subscriptions match), and queue members are ordered local first with weights.
void separate_remote(MatchResult& r) {
  auto is_remote = [](const SubPtr& s) { return s->origin == SubOrigin::route; };
  if (std::any_of(r.plain.begin(), r.plain.end(), is_remote)) {
    auto mid = std::stable_partition(r.plain.begin(), r.plain.end(), [&](const SubPtr& s) { return !is_remote(s); });
    for (auto it = mid; it != r.plain.end(); ++it) {
      const MessageSink* sink = (*it)->sink.get();
      const bool known = std::any_of(r.routes.begin(), r.routes.end(), [&](const SubPtr& s) { return s->sink.get() == sink; });
      if (!known) r.routes.push_back(*it);
    }
    r.plain.erase(mid, r.plain.end());
    r.remote = true;
  }
  for (QueueGroup& g : r.queues) {
    auto mid = std::stable_partition(g.members.begin(), g.members.end(), [&](const SubPtr& s) { return !is_remote(s); });
    g.local_count = static_cast<uint32_t>(mid - g.members.begin());
    if (mid == g.members.end()) continue;
    r.remote = true;
    g.weight_ends.reserve(g.members.size());
    uint32_t total = 0;
    for (const SubPtr& s : g.members) {
      total += is_remote(s) ? static_cast<uint32_t>(std::max<int32_t>(1, s->queue_weight)) : 1u;
      g.weight_ends.push_back(total);
    }
  }
}

}  // namespace

MatchResultPtr Sublist::match(std::string_view subject) const {
  const Tokens split(subject);
  const std::string_view* tokens = split.data();
  const std::size_t n = split.size();
  matches_.fetch_add(1, std::memory_order_relaxed);
  // An empty token (e.g. "a..b") can match nothing.
  for (std::size_t i = 0; i < n; ++i) {
    if (tokens[i].empty()) return empty_result();
  }
  // Built in a per-thread scratch result, so a subject without subscribers allocates nothing.
  thread_local MatchResult scratch;
  scratch.plain.clear();
  scratch.routes.clear();
  scratch.queues.clear();
  scratch.remote = false;
  int queue_sources = 0;
  {
    std::shared_lock lock(mu_);
    match_level(root_.get(), tokens, n, 0, scratch, queue_sources);
  }
  if (scratch.empty()) return empty_result();
  if (queue_sources > 1) merge_queue_groups(scratch.queues);
  separate_remote(scratch);
  return std::make_shared<const MatchResult>(std::move(scratch));
}

SublistStats Sublist::stats() const {
  SublistStats s;
  s.subscriptions = count_.load(std::memory_order_relaxed);
  s.inserts = inserts_.load(std::memory_order_relaxed);
  s.removes = removes_.load(std::memory_order_relaxed);
  s.matches = matches_.load(std::memory_order_relaxed);
  return s;
}

namespace {
template <typename LevelT, typename Fn>
void visit_level(const LevelT* level, const Fn& fn) {
  if (level == nullptr) return;
  auto visit_node = [&](const auto& node) {
    for (const auto& s : node.plain) fn(s);
    if (node.queues) {
      for (const auto& q : *node.queues) {
        for (const auto& s : q.second) fn(s);
      }
    }
    visit_level(node.next.get(), fn);
  };
  for (const auto& [token, node] : level->literal) visit_node(*node);
  if (level->star) visit_node(*level->star);
  if (level->tail) visit_node(*level->tail);
}
}  // namespace

void Sublist::for_each(const std::function<void(const SubPtr&)>& fn) const {
  std::shared_lock lock(mu_);
  visit_level(root_.get(), fn);
}

}  // namespace forest::broker

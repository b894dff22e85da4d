#include "sublist.hpp"

#include <algorithm>
#include <mutex>

#include "subject.hpp"

namespace forest::broker {

struct Sublist::Node {
  std::unique_ptr<Level> next;
  std::vector<SubPtr> plain;
  std::vector<std::pair<std::string, std::vector<SubPtr>>> queues;

  [[nodiscard]] bool empty() const { return plain.empty() && queues.empty() && next == nullptr; }
};

struct Sublist::Level {
  std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>> literal;
  std::unique_ptr<Node> star;  // '*'
  std::unique_ptr<Node> tail;  // '>'

  [[nodiscard]] bool empty() const { return literal.empty() && star == nullptr && tail == nullptr; }
};

namespace {

constexpr std::size_t kMaxStackTokens = 32;

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

// Collects a node's subscriptions into a result, merging queue groups by name.
template <typename NodeT>
void add_node(const NodeT& node, MatchResult& out) {
  out.plain.insert(out.plain.end(), node.plain.begin(), node.plain.end());
  for (const auto& [name, members] : node.queues) {
    auto it = std::find_if(out.queues.begin(), out.queues.end(),
                           [&](const QueueGroup& g) { return g.name == name; });
    if (it == out.queues.end()) {
      out.queues.push_back(QueueGroup{members.front()->queue, members});
    } else {
      it->members.insert(it->members.end(), members.begin(), members.end());
    }
  }
}

template <typename LevelT>
void match_level(const LevelT* level, const std::string_view* tokens, std::size_t count, std::size_t i,
                 MatchResult& out) {
  while (level != nullptr) {
    if (level->tail) add_node(*level->tail, out);
    const bool last = i + 1 == count;
    if (level->star) {
      if (last) {
        add_node(*level->star, out);
      } else {
        match_level(level->star->next.get(), tokens, count, i + 1, out);
      }
    }
    auto it = level->literal.find(tokens[i]);
    if (it == level->literal.end()) return;
    if (last) {
      add_node(*it->second, out);
      return;
    }
    level = it->second->next.get();
    ++i;
  }
}

}  // namespace

Sublist::Sublist() : root_(std::make_unique<Level>()) {}
Sublist::~Sublist() = default;

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
    node->plain.push_back(sub);
  } else {
    auto it = std::find_if(node->queues.begin(), node->queues.end(),
                           [&](const auto& q) { return q.first == sub->queue; });
    if (it == node->queues.end()) {
      node->queues.emplace_back(sub->queue, std::vector<SubPtr>{sub});
    } else {
      it->second.push_back(sub);
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  inserts_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

bool Sublist::remove(const SubPtr& sub) {
  const Tokens split(sub->subject);
  const std::string_view* tokens = split.data();
  const std::size_t n = split.size();

  std::unique_lock lock(mu_);
  // The path walked, so empty nodes can be pruned bottom-up.
  struct Step {
    Level* level;
    std::string_view token;
  };
  std::vector<Step> path;
  path.reserve(n);
  Level* level = root_.get();
  Node* node = nullptr;
  for (std::size_t i = 0; i < n && level != nullptr; ++i) {
    const std::string_view t = tokens[i];
    path.push_back({level, t});
    if (t == "*") {
      node = level->star.get();
    } else if (t == ">") {
      node = level->tail.get();
    } else {
      auto it = level->literal.find(t);
      node = it == level->literal.end() ? nullptr : it->second.get();
    }
    if (node == nullptr) return false;
    level = (i + 1 < n) ? node->next.get() : nullptr;
    if (i + 1 < n && level == nullptr) return false;
  }
  if (node == nullptr) return false;

  bool found = false;
  auto erase_from = [&](std::vector<SubPtr>& v) {
    auto it = std::find(v.begin(), v.end(), sub);
    if (it == v.end()) return;
    *it = std::move(v.back());
    v.pop_back();
    found = true;
  };
  if (sub->queue.empty()) {
    erase_from(node->plain);
  } else {
    auto q = std::find_if(node->queues.begin(), node->queues.end(),
                          [&](const auto& e) { return e.first == sub->queue; });
    if (q != node->queues.end()) {
      erase_from(q->second);
      if (q->second.empty()) node->queues.erase(q);
    }
  }
  if (!found) return false;

  // Prune empty nodes and levels from the leaf up.
  for (std::size_t i = path.size(); i-- > 0;) {
    Level* lv = path[i].level;
    const std::string_view t = path[i].token;
    std::unique_ptr<Node>* slot = nullptr;
    std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>>::iterator lit;
    if (t == "*") {
      slot = &lv->star;
    } else if (t == ">") {
      slot = &lv->tail;
    } else {
      lit = lv->literal.find(t);
      slot = &lit->second;
    }
    Node* nd = slot->get();
    if (nd->next && nd->next->empty()) nd->next.reset();
    if (!nd->empty()) break;
    if (t == "*" || t == ">") {
      slot->reset();
    } else {
      lv->literal.erase(lit);
    }
  }

  count_.fetch_sub(1, std::memory_order_relaxed);
  removes_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

MatchResultPtr Sublist::match(std::string_view subject) const {
  auto result = std::make_shared<MatchResult>();
  const Tokens split(subject);
  const std::string_view* tokens = split.data();
  const std::size_t n = split.size();
  matches_.fetch_add(1, std::memory_order_relaxed);
  // An empty token (e.g. "a..b") can match nothing.
  for (std::size_t i = 0; i < n; ++i) {
    if (tokens[i].empty()) return result;
  }
  std::shared_lock lock(mu_);
  match_level(root_.get(), tokens, n, 0, *result);
  return result;
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
    for (const auto& q : node.queues) {
      for (const auto& s : q.second) fn(s);
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

const MatchResultPtr& MatchCache::lookup(std::string_view subject) {
  const uint64_t gen = sublist_.generation();
  if (gen != generation_) {
    entries_.clear();
    last_ = nullptr;
    generation_ = gen;
  } else if (last_ != nullptr && last_->first == subject) {
    hits_.store(hits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return last_->second;
  }
  auto it = entries_.find(subject);
  if (it != entries_.end()) {
    hits_.store(hits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    last_ = &*it;
    return it->second;
  }
  misses_.store(misses_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (entries_.size() >= max_entries_) entries_.clear();
  it = entries_.emplace(std::string(subject), sublist_.match(subject)).first;
  last_ = &*it;
  return it->second;
}

void MatchCache::sweep() {
  if (sublist_.generation() != generation_ && !entries_.empty()) {
    Entries().swap(entries_);
    last_ = nullptr;
  }
}

}  // namespace forest::broker

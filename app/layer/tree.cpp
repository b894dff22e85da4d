#include "tree.hpp"

namespace forest::app {

std::expected<void, forest::Error> BaseTree::start() {
  for (const std::string& pattern : patterns()) {
    auto o = river_.observe(pattern, [this](const RiverData& d) {
      if (!d.data) return;
      if (auto leaf = parse(d.subject, *d.data)) (void)drop(std::move(*leaf));
    });
    if (!o) return std::unexpected(o.error());
    observers_.push_back(std::move(*o));
  }
  return {};
}

std::expected<void, forest::Error> BaseTree::drop(Leaf leaf) {
  if (leaf.source.empty()) leaf.source = name_;
  return wind_.drop(leaf);
}

std::expected<void, forest::Error> BaseNim::start() {
  for (const std::string& subject : subjects()) {
    auto sub = wind_.catch_leaves(subject, [this](const Leaf& l) {
      if (auto r = handle(l); !r && log_) log_(name_ + ": " + l.subject + ": " + r.error().text);
    });
    if (!sub) return std::unexpected(sub.error());
    subs_.push_back(std::move(*sub));
  }
  return {};
}

std::expected<void, forest::Error> BaseNim::leaf(std::string subject, std::string data) {
  return wind_.drop(make_leaf(std::move(subject), std::move(data), name_));
}

std::expected<uint64_t, forest::Error> BaseNim::compost(std::string_view entity, std::string_view action,
                                                        std::string_view data) {
  return humus_.add(name_, entity, action, data);
}

}  // namespace forest::app

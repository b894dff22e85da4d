#include "wind.hpp"

namespace forest::app {

std::expected<void, forest::Error> Wind::drop(const Leaf& leaf) {
  if (auto valid = validate_leaf(leaf); !valid) return std::unexpected(forest::Error{valid.error().text});
  auto json = encode_leaf(leaf);
  if (!json) return std::unexpected(forest::Error{json.error().text});
  return conn_.publish(leaf.subject, *json);
}

forest::Connection::Handler Wind::wrap(LeafHandler handler) {
  return [this, handler = std::move(handler)](const forest::Message& m) {
    auto leaf = decode_leaf(m.data);
    if (leaf) {
      if (auto valid = validate_leaf(*leaf); !valid) leaf = std::unexpected(valid.error());
    }
    if (!leaf) {
      invalid_.fetch_add(1);
      if (log_) log_("wind: skipping an invalid leaf on " + m.subject + ": " + leaf.error().text);
      return;
    }
    handler(*leaf);
  };
}

std::expected<forest::Subscription, forest::Error> Wind::catch_leaves(std::string_view pattern, LeafHandler handler) {
  return conn_.subscribe(pattern, wrap(std::move(handler)));
}

std::expected<forest::Subscription, forest::Error> Wind::catch_leaves_with_queue(std::string_view pattern,
                                                                                 std::string_view queue,
                                                                                 LeafHandler handler) {
  return conn_.queue_subscribe(pattern, queue, wrap(std::move(handler)));
}

}  // namespace forest::app

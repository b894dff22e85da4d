#include "humus.hpp"

#include "app/core/compost.hpp"

namespace forest::app {

namespace {

constexpr int kStreamNotFound = 10059;

std::unexpected<forest::Error> fail(std::string text) { return std::unexpected(forest::Error{std::move(text), 0, 0}); }

}  // namespace

std::expected<void, forest::Error> Humus::ensure_stream() {
  auto info = js_.stream_info(kHumusStream);
  if (info) return {};
  if (info.error().api_code != kStreamNotFound) return std::unexpected(info.error());
  forest::StreamConfig c;
  c.name = std::string(kHumusStream);
  c.subjects = {"humus.>"};
  c.retention = forest::Retention::limits;
  c.storage = forest::StorageType::file;
  c.max_age = std::chrono::hours(24 * 7);
  c.max_msgs = 1000000;
  c.discard = forest::Discard::old_msgs;
  if (auto created = js_.add_stream(c); !created) {
    if (js_.stream_info(kHumusStream)) return {};  // another node created it meanwhile
    return std::unexpected(created.error());
  }
  return {};
}

std::expected<uint64_t, forest::Error> Humus::add(std::string_view nim, std::string_view entity,
                                                  std::string_view action, std::string_view data) {
  if (nim.empty()) return fail("humus: nim cannot be empty");
  if (entity.empty()) return fail("humus: entity cannot be empty");
  if (action.empty()) return fail("humus: action cannot be empty");
  if (action != "create" && action != "update" && action != "delete") {
    return fail("humus: invalid action " + std::string(action) + " (create, update or delete)");
  }
  if (data.empty() && action != "delete") return fail("humus: data cannot be empty for " + std::string(action));
  Compost c;
  c.entity = std::string(entity);
  c.action = std::string(action);
  c.data = std::string(data);  // empty: written as null
  c.nim = std::string(nim);
  c.ts = GoTime::now_utc();
  auto json = encode_compost(c);
  if (!json) return fail("humus: " + json.error().text);
  auto ack = js_.publish("humus." + std::string(nim) + "." + std::string(action), *json);
  if (!ack) return std::unexpected(ack.error());
  return ack->seq;
}

}  // namespace forest::app

#include "soil.hpp"

namespace forest::app {

namespace {

std::unexpected<forest::Error> fail(std::string text, int status = 0) {
  return std::unexpected(forest::Error{std::move(text), status, 0});
}

}  // namespace

std::expected<Soil, forest::Error> Soil::open(forest::JetStream& js) {
  if (auto kv = js.key_value(kSoilBucket)) return Soil(std::move(*kv));
  forest::KvConfig c;
  c.bucket = std::string(kSoilBucket);
  c.description = "NimsForest current state storage";
  c.history = 10;
  c.storage = forest::StorageType::file;
  auto kv = js.create_key_value(c);
  if (!kv) {
    if (auto again = js.key_value(kSoilBucket)) return Soil(std::move(*again));  // created meanwhile
    return std::unexpected(kv.error());
  }
  return Soil(std::move(*kv));
}

std::expected<std::pair<std::string, uint64_t>, forest::Error> Soil::dig(std::string_view key) const {
  auto e = kv_.get(key);
  if (!e) {
    if (e.error().status == 404) return fail("entity not found: " + std::string(key), 404);
    return std::unexpected(e.error());
  }
  return std::pair{e->value, e->revision};
}

std::expected<uint64_t, forest::Error> Soil::bury(std::string_view key, std::string_view data, uint64_t expected_revision) {
  if (key.empty()) return fail("soil: key cannot be empty");
  if (data.empty()) return fail("soil: data cannot be empty");
  return expected_revision == 0 ? kv_.create(key, data) : kv_.update(key, data, expected_revision);
}

std::expected<uint64_t, forest::Error> Soil::put(std::string_view key, std::string_view data) {
  if (key.empty()) return fail("soil: key cannot be empty");
  return kv_.put(key, data);
}

std::expected<void, forest::Error> Soil::remove(std::string_view key) {
  if (auto found = dig(key); !found) return std::unexpected(found.error());
  return kv_.del(key);
}

std::expected<std::vector<std::string>, forest::Error> Soil::keys() const { return kv_.keys(); }

std::expected<forest::KvWatcher, forest::Error> Soil::watch(std::string_view pattern, WatchHandler handler) {
  forest::KvWatchOptions o;
  o.ignore_deletes = true;  // the Go app logs them and does not pass them on
  return kv_.watch(pattern.empty() ? std::string_view(">") : pattern,
                   [handler = std::move(handler)](const forest::KvEntry& e) { handler(e.key, e.value, e.revision); }, o);
}

}  // namespace forest::app

#include "discovery/registry_update.hpp"

#include <algorithm>
#include <thread>

#include "discovery/file_io.hpp"

namespace forest::discovery {

namespace {

constexpr mode_t kRegistryMode = 0644;  // the Go app's

bool changed(UpdateOutcome o) {
  return o == UpdateOutcome::added || o == UpdateOutcome::updated || o == UpdateOutcome::removed;
}

std::expected<Registry, Error> load_with_retries(const std::string& path, int retries) {
  for (int i = 0;; ++i) {
    auto reg = load_registry(path);
    if (reg || reg.error().code == Errc::io || i >= retries) return reg;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

std::string_view to_string(UpdateOutcome o) {
  switch (o) {
    case UpdateOutcome::added: return "added";
    case UpdateOutcome::updated: return "updated";
    case UpdateOutcome::removed: return "removed";
    case UpdateOutcome::unchanged: return "unchanged";
    case UpdateOutcome::not_found: return "not found";
  }
  return "unchanged";
}

std::expected<UpdateResult, Error> update_registry(const std::string& registry_path,
                                                   const std::function<UpdateOutcome(Registry&)>& mutate,
                                                   const UpdateOptions& options) {
  auto lock = RegistryLock::acquire(registry_path, options.lock);
  if (!lock) return std::unexpected(lock.error());
  UpdateResult result;
  result.lock_forced = lock->forced();
  result.previous_lock_holder = lock->previous_holder();

  auto reg = load_with_retries(registry_path, options.malformed_retries);
  if (!reg) {
    Error e = reg.error();
    if (e.code != Errc::io) e.message += " (the registry was left unchanged: fix or remove the file first)";
    return std::unexpected(std::move(e));
  }
  result.outcome = mutate(*reg);
  if (!changed(result.outcome)) return result;
  if (auto w = write_file_atomically(registry_path, format_registry(*reg), kRegistryMode); !w) {
    return std::unexpected(w.error());
  }
  lock->release();
  return result;
}

std::expected<UpdateResult, Error> upsert_node(const std::string& registry_path, const RegistryNode& node,
                                               const UpdateOptions& options) {
  if (node.id.empty()) return std::unexpected(Error{Errc::usage, registry_path, 0, 0, "a node needs an id"});
  if (node.forest_id.empty()) return std::unexpected(Error{Errc::usage, registry_path, 0, 0, "a node needs a forest id"});
  return update_registry(
      registry_path,
      [&node](Registry& reg) {
        auto& nodes = reg.forests[node.forest_id];
        const auto it = std::find_if(nodes.begin(), nodes.end(), [&](const RegistryNode& n) { return n.id == node.id; });
        if (it == nodes.end()) {
          nodes.push_back(node);
          return UpdateOutcome::added;
        }
        RegistryNode merged = node;
        if (merged.extra.empty()) merged.extra = it->extra;
        if (*it == merged) return UpdateOutcome::unchanged;
        *it = std::move(merged);
        return UpdateOutcome::updated;
      },
      options);
}

std::expected<UpdateResult, Error> remove_node(const std::string& registry_path, std::string_view forest_id,
                                               std::string_view node_id, const UpdateOptions& options) {
  return update_registry(
      registry_path,
      [&](Registry& reg) {
        const auto f = reg.forests.find(forest_id);
        if (f == reg.forests.end()) return UpdateOutcome::not_found;
        auto& nodes = f->second;
        const auto it = std::find_if(nodes.begin(), nodes.end(), [&](const RegistryNode& n) { return n.id == node_id; });
        if (it == nodes.end()) return UpdateOutcome::not_found;
        nodes.erase(it);
        return UpdateOutcome::removed;
      },
      options);
}

}  // namespace forest::discovery

// Changing the registry: read, modify and atomically replace the file under the Go app's
// lock, so that our writers and the Go app's never lose each other's entries.
#pragma once

#include <expected>
#include <functional>
#include <string>
#include <string_view>

#include "discovery/error.hpp"
#include "discovery/registry.hpp"
#include "discovery/registry_lock.hpp"

namespace forest::discovery {

enum class UpdateOutcome { added, updated, removed, unchanged, not_found };

[[nodiscard]] std::string_view to_string(UpdateOutcome o);

struct UpdateResult {
  UpdateOutcome outcome = UpdateOutcome::unchanged;
  bool lock_forced = false;        // the lock was taken by force (see registry_lock.hpp)
  std::string previous_lock_holder;  // what the forced lock file said
};

struct UpdateOptions {
  LockOptions lock;
  // A malformed registry is re-read this many times (100 ms apart) before giving up: a writer
  // that does not take our lock (morpheus's jq script) may be half-way through its write. We
  // never replace a registry we could not read: that would drop every other node.
  int malformed_retries = 5;
};

// The general form: `mutate` changes the registry and says what it did; the file is rewritten
// (2-space JSON, mode 0644) only when the outcome is added, updated or removed.
[[nodiscard]] std::expected<UpdateResult, Error> update_registry(
    const std::string& registry_path, const std::function<UpdateOutcome(Registry&)>& mutate,
    const UpdateOptions& options = {});

// Adds `node` to the forest node.forest_id, or replaces the entry with the same id there
// (keeping unknown fields the old entry had). Both ids must be non-empty.
[[nodiscard]] std::expected<UpdateResult, Error> upsert_node(const std::string& registry_path, const RegistryNode& node,
                                                             const UpdateOptions& options = {});

// Removes the node `node_id` from `forest_id`; not_found when it is not there. A forest left
// without nodes stays, as an empty list (what the Go app writes).
[[nodiscard]] std::expected<UpdateResult, Error> remove_node(const std::string& registry_path,
                                                             std::string_view forest_id, std::string_view node_id,
                                                             const UpdateOptions& options = {});

}  // namespace forest::discovery

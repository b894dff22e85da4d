// Where node-info and the registry are: an explicit path (a flag or the config file) wins,
// then the environment (the Go app's variables), then the defaults.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace forest::discovery {

inline constexpr const char* kNodeInfoEnv = "NATS_CLUSTER_NODE_INFO";
inline constexpr const char* kRegistryEnv = "NATS_CLUSTER_REGISTRY";

inline constexpr const char* kNodeInfoPath = "/etc/nimsforest/node-info.json";
// The seed's path; provisioners moved to /etc/nimsforest, but older machines still have this.
inline constexpr const char* kLegacyNodeInfoPath = "/etc/morpheus/node-info.json";
inline constexpr const char* kRegistryPath = "/mnt/forest/registry.json";

enum class PathSource { explicit_path, environment, default_path };

[[nodiscard]] std::string_view to_string(PathSource s);

struct Paths {
  std::string node_info;
  std::string registry;
  PathSource node_info_source = PathSource::default_path;  // for the startup log line
  PathSource registry_source = PathSource::default_path;
};

// Explicit paths; empty means not given.
struct PathOverrides {
  std::string node_info;
  std::string registry;
};

// The defaults, replaceable so tests need not touch /etc.
struct PathDefaults {
  // The first that exists is used; when none does, the first (whose absence means standalone).
  std::vector<std::string> node_info = {kNodeInfoPath, kLegacyNodeInfoPath};
  std::string registry = kRegistryPath;
};

// Reads the two environment variables (an empty value counts as unset) and checks which
// default node-info file exists. Does not read either file.
[[nodiscard]] Paths resolve_paths(const PathOverrides& overrides = {}, const PathDefaults& defaults = {});

}  // namespace forest::discovery

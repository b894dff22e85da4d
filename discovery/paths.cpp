#include "discovery/paths.hpp"

#include <sys/stat.h>

#include <cstdlib>

namespace forest::discovery {

namespace {

std::string from_env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

std::string_view to_string(PathSource s) {
  switch (s) {
    case PathSource::explicit_path: return "explicit";
    case PathSource::environment: return "environment";
    case PathSource::default_path: return "default";
  }
  return "default";
}

Paths resolve_paths(const PathOverrides& overrides, const PathDefaults& defaults) {
  Paths p;
  if (!overrides.node_info.empty()) {
    p.node_info = overrides.node_info;
    p.node_info_source = PathSource::explicit_path;
  } else if (auto env = from_env(kNodeInfoEnv); !env.empty()) {
    p.node_info = std::move(env);
    p.node_info_source = PathSource::environment;
  } else {
    for (const auto& candidate : defaults.node_info) {
      if (exists(candidate)) {
        p.node_info = candidate;
        break;
      }
    }
    if (p.node_info.empty() && !defaults.node_info.empty()) p.node_info = defaults.node_info.front();
  }
  if (!overrides.registry.empty()) {
    p.registry = overrides.registry;
    p.registry_source = PathSource::explicit_path;
  } else if (auto env = from_env(kRegistryEnv); !env.empty()) {
    p.registry = std::move(env);
    p.registry_source = PathSource::environment;
  } else {
    p.registry = defaults.registry;
  }
  return p;
}

}  // namespace forest::discovery

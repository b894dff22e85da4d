// `forest-server registry add|remove|list`: the registry's command-line writer, for
// provisioning scripts and operators (the Go app has RegisterNode in a library only).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace forest::discovery {

// `args` are the words after "registry". Output goes to `out`, diagnostics to `err`.
// Returns the exit code: 0 done, 1 failed (I/O, malformed registry, lock), 2 usage error.
[[nodiscard]] int run_registry_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

[[nodiscard]] const char* registry_usage_text();

}  // namespace forest::discovery

// `forest run` and `forest standalone`: the embedded server plus the forest core on it, until
// a signal. SIGHUP reloads (the Go app died on it), SIGUSR2 enters lame-duck mode,
// SIGINT/SIGTERM shut down gracefully.
#pragma once

#include <chrono>
#include <expected>
#include <ostream>
#include <string>
#include <vector>

namespace forest::cli {

struct RunOptions {
  bool standalone = false;  // no discovery, a persistent local data dir
  std::string node_info, registry, data_dir, config_file, host = "0.0.0.0";
  std::string node_name;  // standalone only (with discovery it is the node id)
  std::chrono::milliseconds registry_interval{5000};
  int client_port = 4222, cluster_port = 6222, monitor_port = 8222;
  bool debug = false, trace = false;
  bool demo = false;  // --demo or DEMO=true: the example tree and nim and sample payments
};

// Parses the words after the command; the error says which one is wrong.
[[nodiscard]] std::expected<RunOptions, std::string> parse_run_options(const std::vector<std::string>& args,
                                                                      bool standalone);
[[nodiscard]] std::string run_usage();

// Returns the exit code.
int run_forest(const RunOptions& opts, std::ostream& err);

}  // namespace forest::cli

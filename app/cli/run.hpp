// `forest run` and `forest standalone`: the embedded server plus the forest core on it, until
// a signal. SIGHUP reloads (the Go app died on it), SIGUSR2 enters lame-duck mode,
// SIGINT/SIGTERM shut down gracefully.
#pragma once

#include <chrono>
#include <expected>
#include <ostream>
#include <string>
#include <vector>

#include <forest/server.hpp>

namespace forest::cli {

struct RunOptions {
  bool standalone = false;  // no discovery, a persistent local data dir
  bool demo = false;        // --demo or DEMO=true: the example tree and nim and sample payments
  Config server;            // what the flags set (ports 4222, 6222, 8222 unless told)
};

// Parses the words after the command; the error says which one is wrong.
[[nodiscard]] std::expected<RunOptions, std::string> parse_run_options(const std::vector<std::string>& args,
                                                                      bool standalone);
[[nodiscard]] std::string run_usage();

// Returns the exit code.
int run_forest(const RunOptions& opts, std::ostream& err);

}  // namespace forest::cli

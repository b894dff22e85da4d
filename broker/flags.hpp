// nats-server's command line, parsed the way Go's flag package does it: -flag, --flag,
// -flag=value, -flag value (non-boolean flags), booleans only as -flag or -flag=false.
#pragma once

#include <expected>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"

namespace forest::broker {

struct CommandLine {
  // Flag values in the order given, by canonical name; re-applied over the config file on
  // every (re)load so that flags win.
  std::vector<std::pair<std::string, std::string>> flag_values;
  std::string config_file;
  bool show_help = false;
  bool show_version = false;
  bool check_config = false;
  std::string signal;  // "stop", "quit", "reload", "ldm", "term", "reopen", optionally "=<pid or pidfile>"
};

[[nodiscard]] std::expected<CommandLine, std::string> parse_command_line(const std::vector<std::string>& args);

// Applies recorded flag values to options; errors for flags of features not built yet.
[[nodiscard]] std::expected<void, std::string> apply_flags(Options& opts, const CommandLine& cl);

// Defaults, then the config file (if any), then the flags.
[[nodiscard]] std::expected<Options, std::string> build_options(const CommandLine& cl);

[[nodiscard]] const char* usage_text();

}  // namespace forest::broker

// forest: the forest node. `forest run` (the default) joins the forest its node-info names,
// `forest standalone` runs a one-node forest, `forest status` reports on a running node,
// `forest registry ...` edits the shared registry (the same code as forest-server's).
#include <iostream>
#include <string>
#include <vector>

#include "discovery/registry_cli.hpp"
#include "run.hpp"
#include "server.hpp"
#include "status.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: forest [run|standalone] [options]\n"
         "       forest status [--monitor http://127.0.0.1:8222]\n"
         "       forest registry add|remove|list ...\n"
         "       forest version | help\n\n"
         "run/standalone options:\n"
      << forest::cli::run_usage();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string command = "run";
  if (!args.empty() && !args.front().starts_with("-")) {
    command = args.front();
    args.erase(args.begin());
  }
  if (command == "version" || command == "--version") {
    std::cout << "forest v" << forest::broker::kForestVersion << " (nats-server v" << forest::broker::kNatsCompatVersion
              << " compatible)\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    usage(std::cout);
    return 0;
  }
  if (command == "registry") return forest::discovery::run_registry_command(args, std::cout, std::cerr);
  if (command == "status") {
    std::string url = "http://127.0.0.1:8222";
    if (args.size() == 2 && args[0] == "--monitor") {
      url = args[1];
    } else if (!args.empty()) {
      usage(std::cerr);
      return 2;
    }
    return forest::cli::show_status(url, std::cout, std::cerr);
  }
  if (command == "run" || command == "start" || command == "standalone") {
    auto opts = forest::cli::parse_run_options(args, command == "standalone");
    if (!opts) {
      std::cerr << "forest: " << opts.error() << "\n";
      usage(std::cerr);
      return 2;
    }
    return forest::cli::run_forest(*opts, std::cerr);
  }
  std::cerr << "forest: unknown command '" << command << "'\n";
  usage(std::cerr);
  return 2;
}

// forest-server: a drop-in nats-server. Parses nats-server's command line and config file,
// runs the server, and turns signals into server actions as nats-server does:
// SIGINT/SIGTERM/SIGQUIT stop, SIGHUP reloads, SIGUSR1 re-opens the log, SIGUSR2 enters
// lame-duck mode. `forest-server registry ...` edits the forest registry instead (discovery/).
#include <dirent.h>
#include <malloc.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "discovery/registry_cli.hpp"
#include "forest_discovery.hpp"
#include "flags.hpp"
#include "jetstream/service.hpp"
#include "logger.hpp"
#include "server.hpp"

namespace {

using namespace forest::broker;

// Finds the pid for --signal: a number, a pid file, or the one other forest-server running.
std::expected<pid_t, std::string> resolve_pid(const std::string& spec) {
  if (!spec.empty()) {
    char* end = nullptr;
    const long n = std::strtol(spec.c_str(), &end, 10);
    if (*end == '\0' && n > 0) return static_cast<pid_t>(n);
    std::ifstream f(spec);
    long p = 0;
    if (f >> p && p > 0) return static_cast<pid_t>(p);
    return std::unexpected("could not read a pid from '" + spec + "'");
  }
  std::vector<pid_t> found;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      char* end = nullptr;
      const long p = std::strtol(e->d_name, &end, 10);
      if (*end != '\0' || p <= 0 || p == ::getpid()) continue;
      std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
      std::string name;
      if (comm >> name && name == "forest-server") found.push_back(static_cast<pid_t>(p));
    }
    ::closedir(d);
  }
  if (found.empty()) return std::unexpected(std::string("no forest-server process is running"));
  if (found.size() > 1) return std::unexpected(std::string("multiple forest-server processes are running; give a pid"));
  return found.front();
}

int send_signal(const std::string& arg) {
  const auto eq = arg.find('=');
  const std::string command = arg.substr(0, eq);
  const std::string pid_spec = eq == std::string::npos ? "" : arg.substr(eq + 1);
  int sig = 0;
  if (command == "stop") {
    sig = SIGKILL;
  } else if (command == "quit") {
    sig = SIGINT;
  } else if (command == "term") {
    sig = SIGTERM;
  } else if (command == "reopen") {
    sig = SIGUSR1;
  } else if (command == "reload") {
    sig = SIGHUP;
  } else if (command == "ldm") {
    sig = SIGUSR2;
  } else {
    std::cerr << "forest-server: unknown signal \"" << command << "\"\n";
    return 1;
  }
  auto pid = resolve_pid(pid_spec);
  if (!pid) {
    std::cerr << "forest-server: " << pid.error() << "\n";
    return 1;
  }
  if (::kill(*pid, sig) != 0) {
    std::cerr << "forest-server: signal " << command << " to pid " << *pid << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::cout << "Signal \"" << command << "\" sent to pid " << *pid << "\n";
  return 0;
}

}  // namespace

// Outbound buffers grow and shrink with every burst; by default glibc hands freed memory back
// to the kernel right away and page-faults it in again on the next burst (measured: a fifth
// of the CPU in a 1 KiB fan-out). Keep freed memory for reuse instead.
void tune_allocator() {
  mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

// As Go programs (so nats-server) do at start: the soft open-file limit up to the hard one, so
// a shell's default of 1024 does not cap a server meant for tens of thousands of clients.
void raise_open_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  lim.rlim_cur = lim.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &lim);
}

int main(int argc, char** argv) {
  tune_allocator();
  raise_open_file_limit();
  const std::vector<std::string> args(argv + 1, argv + argc);
  // The drop-in command line has no positional words (one is an error), so this
  // subcommand takes nothing away from the drop-in flags.
  if (!args.empty() && args.front() == "registry") {
    return forest::discovery::run_registry_command({args.begin() + 1, args.end()}, std::cout, std::cerr);
  }
  auto cl = parse_command_line(args);
  if (!cl) {
    std::cerr << "forest-server: " << cl.error() << "\n" << usage_text();
    return 2;
  }
  if (cl->show_help) {
    std::cout << usage_text() << "\n";
    return 0;
  }
  if (cl->show_version) {
    std::cout << "forest-server: v" << kForestVersion << " (nats-server v" << kNatsCompatVersion
              << " compatible)\n";
    return 0;
  }
  if (!cl->signal.empty()) return send_signal(cl->signal);

  const CommandLine command_line = *cl;
  auto opts = build_options(command_line);
  if (!opts) {
    std::cerr << "forest-server: " << opts.error() << "\n";
    return 1;
  }
  forest::app::DiscoveryPlan discovery;
  if (opts->discovery()) {
    auto plan = forest::app::plan_discovery(*opts);
    if (!plan) {
      std::cerr << "forest-server: " << plan.error() << "\n";
      return 1;
    }
    discovery = std::move(*plan);
  }
  if (command_line.check_config) {
    std::cout << "forest-server: configuration file " << command_line.config_file << " is valid\n";
    return 0;
  }

  auto log = std::make_shared<Logger>();
  std::string log_error;
  if (!log->open(opts->log_file, &log_error)) {
    std::cerr << "forest-server: " << log_error << "\n";
    return 1;
  }

  // Block the signals we handle before any thread starts, so only sigwait() below sees them.
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&handled, s);
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // A reload re-reads the flags and the file; what discovery decided at start stays.
  const Options started_with = *opts;
  Server server(std::move(*opts), log);
  server.set_options_loader([command_line, started_with]() -> std::expected<Options, std::string> {
    auto next = build_options(command_line);
    if (next && started_with.discovery()) {
      next->cluster = started_with.cluster;
      next->server_name = started_with.server_name;
    }
    return next;
  });
  if (server.options()->jetstream.enabled) server.add_service(std::make_unique<forest::broker::js::JetStreamService>(server));
  for (const std::string& line : discovery.log_lines) log->info("{}", line);
  if (auto r = server.start(); !r) {
    log->fatal("{}", r.error());
    return 1;
  }
  auto watcher = forest::app::follow_registry(server, discovery);
  if (!watcher) {
    log->fatal("{}", watcher.error());
    server.shutdown();
    server.wait();
    return 1;
  }

  for (;;) {
    int sig = 0;
    if (sigwait(&handled, &sig) != 0) continue;
    if (sig == SIGHUP) {
      auto r = server.reload();
      if (!r) log->error("Failed to reload server configuration: {}", r.error());
      continue;
    }
    if (sig == SIGUSR1) {
      server.reopen_log();
      continue;
    }
    if (sig == SIGUSR2) {
      log->info("Trapped \"user defined signal 2\" signal");
      server.enter_lame_duck_mode();
      // Lame-duck mode ends in a shutdown; keep answering other signals until then.
      std::thread([&server] { server.wait(); ::kill(::getpid(), SIGTERM); }).detach();
      continue;
    }
    const char* name = sig == SIGINT ? "interrupt" : (sig == SIGTERM ? "terminated" : "quit");
    log->info("Trapped \"{}\" signal", name);
    break;
  }
  if (*watcher) (*watcher)->stop();  // no more dials while the cluster goes away
  server.shutdown();
  server.wait();
  return 0;
}

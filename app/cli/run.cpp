#include "run.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include <forest/server.hpp>

#include "app/layer/decomposer.hpp"
#include "app/layer/humus.hpp"
#include "app/layer/river.hpp"
#include "app/layer/soil.hpp"
#include "app/layer/wind.hpp"
#include "app/examples/demo.hpp"
#include "options.hpp"

namespace forest::cli {

namespace {

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::move(fallback);
}

// The standalone store: persistent, per user (the Go app used a fresh temp dir every start).
std::string default_standalone_dir() {
  const std::string base = env_or("XDG_DATA_HOME", env_or("HOME", ".") + "/.local/share");
  return base + "/nimsforest/jetstream";
}

std::expected<int, std::string> port_arg(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  const long n = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < -1 || n > 65535) {
    return std::unexpected(flag + ": not a port: '" + value + "' (0 ephemeral, -1 off)");
  }
  return static_cast<int>(n);
}

}  // namespace

std::string run_usage() {
  return "  --node-info PATH     node-info file (env NATS_CLUSTER_NODE_INFO, default /etc/nimsforest/node-info.json)\n"
         "  --registry PATH      registry file (env NATS_CLUSTER_REGISTRY, default /mnt/forest/registry.json)\n"
         "  --data-dir DIR       JetStream store (env JETSTREAM_DIR, default /var/lib/nimsforest/jetstream;\n"
         "                       standalone: $XDG_DATA_HOME/nimsforest/jetstream)\n"
         "  --config FILE        a nats-server configuration file for everything else\n"
         "  --host HOST, -a HOST listen address of every port (default 0.0.0.0)\n"
         "  --client-port N      default 4222 (0 ephemeral, -1 off)\n"
         "  --cluster-port N     default 6222 (standalone: off)\n"
         "  --monitor-port N     default 8222 (-1 off)\n"
         "  -p N / -m N          client / monitoring port as nats-server's flags (-1 ephemeral)\n"
         "  --registry-interval D how often the registry is re-read (default 5s)\n"
         "  --name NAME          server name (standalone; with a node-info it is the node id)\n"
         "  --demo               plant the example tree and nim and flow sample payments (also DEMO=true)\n"
         "  -D / -V              debug / trace logging\n";
}

std::expected<RunOptions, std::string> parse_run_options(const std::vector<std::string>& args, bool standalone) {
  RunOptions o;
  o.standalone = standalone;
  Config& c = o.server;
  c.discovery = !standalone;
  c.client_port = 4222;
  c.cluster_port = standalone ? -1 : 6222;
  c.monitor_port = 8222;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::expected<std::string, std::string> {
      if (i + 1 >= args.size()) return std::unexpected(a + " needs a value");
      return args[++i];
    };
    if (a == "-D") {
      c.debug = true;
      continue;
    }
    if (a == "-V") {
      c.trace = true;
      continue;
    }
    if (a == "--demo") {
      o.demo = true;
      continue;
    }
    auto v = value();
    if (!v) return std::unexpected(v.error());
    if (a == "--node-info" && !standalone) {
      c.node_info_path = *v;
    } else if (a == "--registry" && !standalone) {
      c.registry_path = *v;
    } else if (a == "--data-dir") {
      c.data_dir = *v;
    } else if (a == "--config") {
      c.config_file = *v;
    } else if (a == "-p" || a == "-m") {
      // nats-server's short flags, with its meaning of -1 (an ephemeral port).
      auto p = port_arg(a, *v);
      if (!p) return std::unexpected(p.error());
      (a == "-p" ? c.client_port : c.monitor_port) = *p == -1 ? 0 : *p;
    } else if (a == "--host" || a == "-a") {
      c.host = *v;
    } else if (a == "--registry-interval") {
      auto d = broker::parse_go_duration(*v);
      if (!d || d->count() <= 0) return std::unexpected("--registry-interval: not a duration: '" + *v + "'");
      c.registry_interval = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    } else if (a == "--name") {
      c.node_name = *v;
    } else if (a == "--client-port" || a == "--cluster-port" || a == "--monitor-port") {
      auto p = port_arg(a, *v);
      if (!p) return std::unexpected(p.error());
      (a == "--client-port" ? c.client_port : a == "--cluster-port" ? c.cluster_port : c.monitor_port) = *p;
    } else {
      return std::unexpected("unknown option " + a);
    }
  }
  if (env_or("DEMO", "") == "true") o.demo = true;  // the Go app's switch
  if (standalone && c.node_name.empty()) c.node_name = "standalone";
  if (c.data_dir.empty()) {
    c.data_dir = standalone ? default_standalone_dir() : env_or("JETSTREAM_DIR", "/var/lib/nimsforest/jetstream");
  }
  return o;
}

int run_forest(const RunOptions& opts, std::ostream& err) {
  // A missing data dir is created (with its parents); one that cannot be is a clear error.
  std::error_code ec;
  std::filesystem::create_directories(opts.server.data_dir, ec);
  if (ec) {
    err << "forest: cannot create the data dir " << opts.server.data_dir << ": " << ec.message() << "\n";
    return 1;
  }
  const Config& c = opts.server;

  // Signals are taken by sigwait() below only: blocked before any thread starts.
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR2}) sigaddset(&handled, s);
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Server server(c);
  if (auto r = server.start(); !r) {
    err << "forest: " << r.error().text << "\n";
    return 1;
  }
  // Three in-process connections, so that one's slow handlers never delay another's: the app
  // (wind, trees' leaves, nims), JetStream (river, humus, soil), and the decomposer's fetches.
  auto conn = server.connect({.name = "forest"});
  auto js_conn = server.connect({.name = "forest-jetstream"});
  auto decomposer_conn = server.connect({.name = "forest-decomposer"});
  if (!conn || !js_conn || !decomposer_conn) {
    err << "forest: in-process connection: "
        << (!conn ? conn.error().text : !js_conn ? js_conn.error().text : decomposer_conn.error().text) << "\n";
    server.shutdown();
    return 1;
  }
  auto log = [&err](std::string_view line) { err << "[forest] " << line << "\n"; };
  // The forest core, as the Go app's runForest sets it up (steps 7-9).
  app::Wind wind(**conn, log);
  JetStream js(**js_conn);
  JetStream decomposer_js(**decomposer_conn);
  app::River river(js, app::RiverOptions{.tree = server.server_name()}, log);
  app::Humus humus(js);
  auto soil = app::Soil::open(js);
  auto ready = river.ensure_stream();
  if (ready) ready = humus.ensure_stream();
  if (!ready || !soil) {
    err << "forest: JetStream setup (RIVER, HUMUS, SOIL): " << (!ready ? ready.error().text : soil.error().text) << "\n";
    server.shutdown();
    return 1;
  }
  auto decomposer = app::Decomposer::start(decomposer_js, humus, {}, log);
  if (!decomposer) {
    err << "forest: decomposer: " << decomposer.error().text << "\n";
    server.shutdown();
    return 1;
  }
  log("node " + server.server_name() + " ready: clients " + server.client_url() + ", data " + c.data_dir);
  std::unique_ptr<examples::Demo> demo;
  if (opts.demo) {
    demo = std::make_unique<examples::Demo>(wind, river, humus, *soil, log);
    if (auto r = demo->start(); !r) {
      log("demo: " + r.error().text);
    } else {
      demo->flow_samples();
    }
  }

  for (;;) {
    int sig = 0;
    if (sigwait(&handled, &sig) != 0) continue;
    if (sig == SIGHUP) {
      auto r = server.reload();
      if (!r) log("reload failed: " + r.error().text);
      continue;
    }
    if (sig == SIGUSR2) {
      server.enter_lame_duck_mode();
      std::thread([&server] {
        server.wait();
        ::kill(::getpid(), SIGTERM);
      }).detach();
      continue;
    }
    break;
  }
  if (demo) demo->stop();
  (*decomposer)->stop();
  (*decomposer_conn)->close();
  (*js_conn)->close();
  (*conn)->close();
  server.shutdown();
  return 0;
}

}  // namespace forest::cli

// forest-bench: load generator and side-by-side comparison of two NATS servers.
//
//   forest-bench run [--url nats://127.0.0.1:4222] [--json F] [--csv F] WORKLOAD...
//   forest-bench compare --a CMD --b CMD [--rounds N] [--suite default|quick] [--workload W]...
//                        [--out DIR] [--tls]
//   forest-bench hostile [--a CMD] [--b CMD] [--rounds N] [--attack NAME]... [--scale F] [--out DIR]
//   forest-bench cluster [--a CMD] [--b CMD] [--nodes N] [--rounds N] [--suite default|quick]
//                        [--workload W]... [--out DIR]
//
// A WORKLOAD is "mode[:key=value,...]": modes pub, sub, pubsub, queue, reqrep, many-subjects,
// idle-conns (compare only), mesh (cluster only); keys msgs, size, pubs, subs, rate, duration,
// subjects, conns, and for cluster nodes, subnodes.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "cluster_compare.hpp"
#include "embedded.hpp"
#include "hostile.hpp"
#include "proc_stats.hpp"
#include "report.hpp"
#include "server_process.hpp"
#include "test_certs.hpp"
#include "workloads.hpp"

namespace fb = forest::bench;
using forest::testing::ServerProcess;

namespace {

const char* kUsage = R"(forest-bench: load generator and side-by-side comparison of NATS servers

  forest-bench run [--url nats://127.0.0.1:4222] [--json FILE] [--csv FILE] WORKLOAD...
  forest-bench compare --a "CMD ARGS" --b "CMD ARGS" [--rounds 5] [--suite default|quick]
                       [--workload WORKLOAD]... [--out DIR] [--tls]

WORKLOAD is mode[:key=value,...]
  modes: pub, sub, pubsub, queue, reqrep, many-subjects, idle-conns (compare only),
         js-pub, js-consume, kv (JetStream: compare adds "-js -sd <temp dir>")
  keys:  msgs=N size=BYTES (0..65536) pubs=N subs=N rate=MSGS_PER_S duration=SECONDS
         subjects=N (many-subjects) conns=N (idle-conns) label=NAME
         gen=lean|libnats (publishers of pub/sub/pubsub/queue: ours, or the official C client)
         window=N (js-pub: acks outstanding, 1 = sync) consumer=pull|push batch=N (js-consume)
         keys=N (kv)
  suites: default (the core bar), quick (CI smoke), jetstream
  e.g.   pubsub:size=1024,subs=4,msgs=200000   reqrep:rate=5000,msgs=20000

compare starts each server fresh for every run on ephemeral ports (its command plus
"-a 127.0.0.1 -p -1"), alternates A and B in ABBA order over the rounds, and reports
medians, min-max, the B/A ratio, and server CPU seconds per million messages from /proc.
A run that loses, duplicates or reorders a message is reported as FAILED.
--tls makes a throwaway CA and server certificate (openssl CLI, tests/support/test_certs),
starts both servers with
"--tls --tlscert --tlskey" and has every bench connection use TLS, verifying the server
(not for idle-conns nor gen=libnats).

  forest-bench embedded [--rounds 5] [--msgs 1000000] [--js-msgs 20000] [--size 16]

embedded runs libforest's server in this process and measures its in-process client against
the bench's TCP client on the same server's loopback port (pub/sub; synchronous JetStream
publish with ack), alternating the order over the rounds; it prints medians and the
in-process/TCP ratio.

  forest-bench hostile [--a "CMD ARGS"] [--b "CMD ARGS"] [--rounds 1] [--attack NAME[,NAME]]...
                       [--scale 1.0] [--out bench-results/hostile] [--list]

hostile runs each attack (all by default; --list names them) against a fresh A and B server
("-a 127.0.0.1 -p -1 -m -1" added), ABBA over the rounds, while a bystander client PINGs every
5 ms and probes open a client connection and GET /healthz every 100 ms; it reports the
bystander's worst and p99 round trip, the probes' worst, the server's RSS 1 s after the attack
and its peak, and the attack's own figures. --scale multiplies counts and durations.
Defaults: A "build/app/forest-server --io_threads 1", B "GOMAXPROCS=1 /usr/sbin/nats-server"
(leading VAR=value words are passed through /usr/bin/env).

  forest-bench cluster [--a "CMD ARGS"] [--b "CMD ARGS"] [--nodes 3] [--rounds 5]
                       [--suite default|quick] [--workload WORKLOAD]... [--out bench-results/cluster]

cluster starts, for every run, a fresh cluster of N A-servers or N B-servers (each with
"-a 127.0.0.1 -p -1 -m -1 --cluster nats://127.0.0.1:-1 --cluster_name bench", nodes 1..N-1 with
"--routes" to node 0), waits until /routez of every node lists every other node (the mesh
formation time), then runs the workload with the publisher on node 0 and the subscribers on
other nodes, once node 0 has their interest. ABBA order, medians, ratios; server CPU per
message summed over all nodes. Workloads: pubsub, queue, and mesh (formation time only);
extra keys nodes=N (cluster size; default --nodes) and subnodes=N or N-M (the nodes the
subscribers go to, round robin: default 1 for pubsub, 0..N-1 for queue).
Defaults: A "build/app/forest-server", B "/usr/sbin/nats-server".
)";

std::vector<std::string> split_command(const std::string& cmd) {
  std::istringstream in(cmd);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::vector<std::string> suite(const std::string& name) {
  if (name == "jetstream") {
    return {"js-pub:size=16,msgs=20000,window=1", "js-pub:size=16,msgs=200000,window=256",
            "js-consume:size=16,msgs=200000,consumer=pull,batch=256", "js-consume:size=16,msgs=200000,consumer=push",
            "kv:size=64,keys=1000,msgs=10000"};
  }
  if (name == "quick") {
    return {"pub:size=16,msgs=200000",       "pubsub:size=16,subs=1,msgs=100000", "pubsub:size=1024,subs=4,msgs=20000",
            "queue:size=16,subs=2,msgs=100000", "many-subjects:size=16,subjects=10000,msgs=100000",
            "reqrep:size=16,msgs=2000",      "idle-conns:conns=1000"};
  }
  return {"pub:size=16,msgs=4000000",
          "pub:size=1024,msgs=1000000",
          "pubsub:size=16,subs=1,msgs=2000000",
          "pubsub:size=1024,subs=1,msgs=600000",
          "pubsub:size=16,subs=4,msgs=800000",
          "pubsub:size=1024,subs=4,msgs=200000",
          "queue:size=16,pubs=1,subs=2,msgs=2000000",
          "queue:size=1024,pubs=1,subs=2,msgs=600000",
          "many-subjects:size=16,subjects=100000,msgs=1000000",
          "reqrep:size=16,msgs=20000",
          "reqrep:size=16,rate=10000,msgs=50000",
          "idle-conns:conns=10000"};
}

void raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

// Holds N idle connections and reports the server's RSS before and with them.
fb::WorkloadResult run_idle_conns(const fb::WorkloadSpec& spec, const fb::Endpoint& ep, pid_t server) {
  fb::WorkloadResult r;
  r.name = spec.name();
  r.mode = spec.mode;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  r.server_idle_rss = fb::process_rss_bytes(server);
  forest::asio::io_context ctx;
  std::vector<std::unique_ptr<forest::tcp::socket>> conns;
  const auto start = std::chrono::steady_clock::now();
  try {
    const forest::tcp::endpoint target(forest::asio::ip::make_address(ep.host), static_cast<unsigned short>(ep.port));
    const std::string connect = "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"lang\":\"forest-bench\"}\r\nPING\r\n";
    for (int i = 0; i < spec.conns; ++i) {
      auto s = std::make_unique<forest::tcp::socket>(ctx);
      s->connect(target);
      forest::asio::write(*s, forest::asio::buffer(connect));
      // Read INFO and PONG so the server has done its part for this connection.
      std::string got;
      char buf[4096];
      while (got.find("PONG\r\n") == std::string::npos) {
        const std::size_t n = s->read_some(forest::asio::buffer(buf));
        got.append(buf, n);
      }
      conns.push_back(std::move(s));
    }
  } catch (const std::exception& e) {
    r.error = fmt::format("after {} connections: {}", conns.size(), e.what());
    return r;
  }
  r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  r.server_peak_rss = fb::process_rss_bytes(server);
  r.sent = r.received = r.expected = conns.size();
  r.msgs_per_s = r.elapsed_s > 0 ? static_cast<double>(conns.size()) / r.elapsed_s : 0;
  r.ok = true;
  return r;
}

int cmd_run(const std::vector<std::string>& args) {
  fb::Endpoint ep;
  std::string json_path, csv_path;
  std::vector<fb::WorkloadSpec> specs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--url" || a == "--json" || a == "--csv") && i + 1 < args.size()) {
      const std::string v = args[++i];
      if (a == "--url") ep = fb::parse_url(v);
      if (a == "--json") json_path = v;
      if (a == "--csv") csv_path = v;
      continue;
    }
    std::string error;
    auto spec = fb::parse_workload(a, &error);
    if (!spec) {
      std::cerr << "forest-bench: " << error << "\n";
      return 2;
    }
    if (spec->mode == "idle-conns") {
      std::cerr << "forest-bench: idle-conns needs the server process: use compare\n";
      return 2;
    }
    if (spec->mode == "mesh" || spec->nodes != 0 || !spec->sub_nodes.empty()) {
      std::cerr << "forest-bench: mesh, nodes= and subnodes= are for forest-bench cluster\n";
      return 2;
    }
    specs.push_back(*spec);
  }
  if (specs.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  bool all_ok = true;
  std::vector<fb::Comparison> rows;
  std::string json = "[";
  for (const auto& spec : specs) {
    const fb::WorkloadResult r = fb::run_workload(spec, ep);
    std::cout << fb::render_single(r);
    all_ok = all_ok && r.ok;
    if (json.size() > 1) json += ",";
    json += fb::result_json(r);
    fb::Comparison c;
    c.workload = r.name;
    c.a.server = "A";
    c.a.rounds.push_back(r);
    rows.push_back(c);
  }
  if (!json_path.empty()) std::ofstream(json_path) << json << "]\n";
  if (!csv_path.empty()) std::ofstream(csv_path) << fb::render_csv(rows);
  return all_ok ? 0 : 1;
}

int cmd_compare(const std::vector<std::string>& args, const std::string& command_line) {
  std::string a_cmd, b_cmd, out_dir = "bench-results", suite_name = "default";
  int rounds = 5;
  bool tls = false;
  std::vector<std::string> workloads;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) throw std::runtime_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--a") a_cmd = next();
    else if (a == "--b") b_cmd = next();
    else if (a == "--rounds") rounds = std::stoi(next());
    else if (a == "--suite") suite_name = next();
    else if (a == "--workload") workloads.push_back(next());
    else if (a == "--out") out_dir = next();
    else if (a == "--tls") tls = true;
    else throw std::runtime_error("unknown option " + a);
  }
  if (a_cmd.empty() || b_cmd.empty()) throw std::runtime_error("compare needs --a and --b");
  if (workloads.empty()) workloads = suite(suite_name);
  std::vector<fb::WorkloadSpec> specs;
  for (const auto& w : workloads) {
    std::string error;
    auto s = fb::parse_workload(w, &error);
    if (!s) throw std::runtime_error(error);
    if (s->mode == "mesh" || s->nodes != 0 || !s->sub_nodes.empty()) {
      throw std::runtime_error(w + ": mesh, nodes= and subnodes= are for forest-bench cluster");
    }
    if (tls && (s->mode == "idle-conns" || s->generator == "libnats")) {
      throw std::runtime_error(w + ": --tls is for the bench's own client (not idle-conns, not gen=libnats)");
    }
    specs.push_back(*s);
  }
  std::shared_ptr<const fb::TlsClientConfig> tls_config;
  std::vector<std::string> tls_args;
  if (tls) {
    // The test suite's throwaway CA and its server certificate for 127.0.0.1.
    const forest::testing::TestCerts& certs = forest::testing::test_certs();
    if (!certs.ok) throw std::runtime_error("could not make the TLS certificates: " + certs.error);
    tls_config = std::make_shared<const fb::TlsClientConfig>(certs("ca.pem"));
    tls_args = {"--tls", "--tlscert", certs("server.pem"), "--tlskey", certs("server.key")};
  }
  const std::vector<std::string> a_argv = split_command(a_cmd), b_argv = split_command(b_cmd);
  std::vector<fb::Comparison> rows;
  for (const auto& s : specs) {
    fb::Comparison c;
    c.workload = s.name();
    c.a.server = "A";
    c.a.command = a_cmd;
    c.b.server = "B";
    c.b.command = b_cmd;
    rows.push_back(std::move(c));
  }
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const int total_runs = static_cast<int>(specs.size()) * rounds * 2;
  int done = 0;
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t w = 0; w < specs.size(); ++w) {
      // ABBA: even rounds A then B, odd rounds B then A.
      const bool a_first = round % 2 == 0;
      for (int k = 0; k < 2; ++k) {
        const bool is_a = (k == 0) == a_first;
        const auto& argv = is_a ? a_argv : b_argv;
        std::vector<std::string> server_args(argv.begin() + 1, argv.end());
        for (const char* extra : {"-a", "127.0.0.1", "-p", "-1"}) server_args.emplace_back(extra);
        server_args.insert(server_args.end(), tls_args.begin(), tls_args.end());
        std::string store_dir;
        if (fb::is_jetstream_mode(specs[w].mode)) {
          // A fresh store per run, removed afterwards.
          store_dir = (std::filesystem::temp_directory_path() /
                       ("forest-bench-js-" + std::to_string(::getpid()) + "-" + std::to_string(done))).string();
          for (const std::string& extra : {std::string("-js"), std::string("-sd"), store_dir}) server_args.push_back(extra);
        }
        fb::WorkloadResult r;
        try {
          auto server = ServerProcess::start(argv.front(), server_args);
          const fb::Endpoint ep{"127.0.0.1", server->client_port(), tls_config};
          if (specs[w].mode == "idle-conns") {
            r = run_idle_conns(specs[w], ep, server->pid());
          } else {
            const fb::CpuTime cpu0 = fb::process_cpu(server->pid());
            fb::RssSampler rss(server->pid());
            r = fb::run_workload(specs[w], ep);
            r.server_cpu_s = fb::process_cpu(server->pid()).seconds - cpu0.seconds;
            r.server_cpu_resolution_s = cpu0.resolution_s;
            r.server_peak_rss = rss.peak();
          }
          server->stop();
        } catch (const std::exception& e) {
          r.name = specs[w].name();
          r.error = e.what();
        }
        if (!store_dir.empty()) {
          std::error_code ignored;
          std::filesystem::remove_all(store_dir, ignored);
        }
        ++done;
        const std::string line = fmt::format("[{}/{}] round {} {} {}: {}", done, total_runs, round + 1, is_a ? "A" : "B",
                                             r.name, r.ok ? fmt::format("{:.0f} msg/s", r.msgs_per_s) : "FAILED " + r.error);
        if (tty) {
          std::cerr << "\r\033[K" << line << std::flush;
        } else {
          std::cerr << line << "\n";
        }
        (is_a ? rows[w].a : rows[w].b).rounds.push_back(std::move(r));
      }
    }
  }
  if (tty) std::cerr << "\n";
  fb::ReportMeta meta{command_line, fb::machine_description(), now_text(), rounds};
  std::filesystem::create_directories(out_dir);
  std::ofstream(out_dir + "/report.json") << fb::render_json(meta, rows);
  std::ofstream(out_dir + "/report.csv") << fb::render_csv(rows);
  std::ofstream(out_dir + "/report.html") << fb::render_html(meta, rows);
  std::cout << "A: " << a_cmd << "\nB: " << b_cmd << "\n" << fb::render_table(rows);
  std::cout << "report: " << out_dir << "/report.html (also report.json, report.csv)\n";
  bool all_ok = true;
  for (const auto& c : rows) all_ok = all_ok && c.a.all_ok() && c.b.all_ok();
  return all_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  raise_fd_limit();
  // Precise sleeps for paced sending (the default 50us timer slack would blur schedules).
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  std::string command_line = "forest-bench";
  for (const auto& a : args) {
    command_line += " ";
    command_line += a.find(' ') != std::string::npos ? "\"" + a + "\"" : a;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "run") return cmd_run(args);
    if (cmd == "compare") return cmd_compare(args, command_line);
    if (cmd == "hostile") return fb::cmd_hostile(args, command_line);
    if (cmd == "cluster") return fb::cmd_cluster(args, command_line);
    if (cmd == "embedded") return fb::cmd_embedded(args, command_line);
  } catch (const std::exception& e) {
    std::cerr << "forest-bench: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "forest-bench: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}

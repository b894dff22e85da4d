#include "embedded.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <stdexcept>

#include <forest/jetstream.hpp>
#include <forest/server.hpp>

#include "app/layer/river.hpp"

#include "workloads.hpp"

namespace forest::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int rounds = 5;
  uint64_t msgs = 1'000'000;
  uint64_t js_msgs = 20'000;
  std::size_t size = 16;
  std::size_t batch = 64;  // messages per publish_batch() in the batched workload
};

Args parse(const std::vector<std::string>& args) {
  Args a;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& k = args[i];
    const std::string& v = args[i + 1];
    if (k == "--rounds") {
      a.rounds = std::stoi(v);
    } else if (k == "--msgs") {
      a.msgs = std::stoull(v);
    } else if (k == "--js-msgs") {
      a.js_msgs = std::stoull(v);
    } else if (k == "--batch") {
      a.batch = std::stoull(v);
      if (a.batch == 0) throw std::runtime_error("embedded: --batch must be at least 1");
    } else if (k == "--size") {
      a.size = std::stoull(v);
    } else {
      throw std::runtime_error("embedded: unknown option " + k);
    }
  }
  if (args.size() % 2 != 0) throw std::runtime_error("embedded: option without a value: " + args.back());
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// One publisher connection, one subscriber connection, both in-process: msgs/s from the
// first publish to the last delivery. Fails on any loss.
// batch 0: one publish() per message; else publish_batch() of `batch` messages (the last
// one shorter), the in-process counterpart of a TCP client's buffered writes.
double inprocess_pubsub(Server& server, uint64_t msgs, std::size_t size, std::size_t batch) {
  // Room for the whole run: the in-process publisher has no flow control against an
  // in-process subscriber (broker/inprocess_conn.hpp), so a smaller queue would drop.
  auto sub_conn = server.connect({.name = "bench-sub", .max_pending_msgs = static_cast<int64_t>(msgs) + 1,
                                  .max_pending_bytes = static_cast<int64_t>(msgs * (size + 64)) + (1 << 20)});
  auto pub_conn = server.connect({.name = "bench-pub"});
  if (!sub_conn || !pub_conn) throw std::runtime_error("embedded: connect failed");
  std::atomic<uint64_t> got{0};
  std::promise<void> done;
  auto sub = (*sub_conn)->subscribe("bench.inproc", [&](const Message&) {
    if (got.fetch_add(1) + 1 == msgs) done.set_value();
  });
  if (!sub) throw std::runtime_error("embedded: subscribe: " + sub.error().text);
  const std::string payload(size, 'x');
  std::vector<Message> batch_msgs(std::max<std::size_t>(batch, 1), Message{"bench.inproc", "", "", payload});
  const auto t0 = Clock::now();
  if (batch == 0) {
    for (uint64_t i = 0; i < msgs; ++i) {
      if (!(*pub_conn)->publish("bench.inproc", payload)) throw std::runtime_error("embedded: publish failed");
    }
  } else {
    for (uint64_t i = 0; i < msgs; i += batch) {
      const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(batch, msgs - i));
      if (!(*pub_conn)->publish_batch(std::span(batch_msgs).first(n))) {
        throw std::runtime_error("embedded: publish_batch failed");
      }
    }
  }
  if (done.get_future().wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    throw std::runtime_error("embedded: in-process pubsub lost messages: " + std::to_string(got.load()) + " of " +
                             std::to_string(msgs) + " (dropped " + std::to_string((*sub_conn)->dropped()) + ")");
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(msgs) / s;
}

// Synchronous publish with ack, in-process: one request per message, every ack checked.
double inprocess_js_pub(Server& server, uint64_t msgs, std::size_t size) {
  auto conn = server.connect({.name = "bench-js"});
  if (!conn) throw std::runtime_error("embedded: connect failed");
  (void)(*conn)->request("$JS.API.STREAM.DELETE.EMBED", "", std::chrono::seconds(5));
  auto created = (*conn)->request(
      "$JS.API.STREAM.CREATE.EMBED",
      R"({"name":"EMBED","subjects":["embed.js"],"retention":"limits","storage":"file","num_replicas":1,"discard":"old","max_msgs":-1,"max_bytes":-1,"max_age":0})",
      std::chrono::seconds(5));
  if (!created || created->data.find("\"error\"") != std::string::npos) {
    throw std::runtime_error("embedded: stream create failed");
  }
  const std::string payload(size, 'x');
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < msgs; ++i) {
    auto ack = (*conn)->request("embed.js", payload, std::chrono::seconds(10));
    if (!ack || ack->data.find("\"seq\":" + std::to_string(i + 1)) == std::string::npos) {
      throw std::runtime_error("embedded: bad ack for message " + std::to_string(i + 1));
    }
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  (void)(*conn)->request("$JS.API.STREAM.DELETE.EMBED", "", std::chrono::seconds(5));
  return static_cast<double>(msgs) / s;
}

struct RiverResult {
  double rate = 0;           // observed messages per second, first flow to last observed
  double p50_us = 0, p99_us = 0;  // flow() called to handler called
};

// River end to end: flow() (publish with ack, one at a time) while an observer fetches and
// acks; every message observed once.
RiverResult inprocess_river(Server& server, uint64_t msgs, std::size_t size) {
  auto conn = server.connect({.name = "bench-river"});
  auto obs_conn = server.connect({.name = "bench-river-observer"});
  if (!conn || !obs_conn) throw std::runtime_error("embedded: connect failed");
  JetStream js(**conn), obs_js(**obs_conn);
  (void)js.delete_stream("RIVER");
  app::RiverOptions ro;
  ro.tree = "bench";
  ro.fetch_batch = 256;
  ro.fetch_wait = std::chrono::milliseconds(100);
  app::River river(js, ro), observer_river(obs_js, ro);
  std::vector<double> latencies;
  latencies.reserve(msgs);
  std::mutex mu;
  std::promise<void> done;
  const auto origin = Clock::now();
  auto observer = observer_river.observe("bench", [&](const app::RiverData& d) {
    const auto now = std::chrono::duration<double, std::micro>(Clock::now() - origin).count();
    const double sent = d.data ? std::stod(d.data->substr(0, d.data->find(' '))) : now;
    std::lock_guard lock(mu);
    latencies.push_back(now - sent);
    if (latencies.size() == msgs) done.set_value();
  });
  if (!observer) throw std::runtime_error("embedded: observe: " + observer.error().text);
  const std::string pad(size, 'x');
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < msgs; ++i) {
    const double sent = std::chrono::duration<double, std::micro>(Clock::now() - origin).count();
    if (!river.flow("bench", std::to_string(sent) + " " + pad)) throw std::runtime_error("embedded: flow failed");
  }
  if (done.get_future().wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    throw std::runtime_error("embedded: river lost messages");
  }
  RiverResult r;
  r.rate = static_cast<double>(msgs) / std::chrono::duration<double>(Clock::now() - t0).count();
  (*observer)->stop();
  std::sort(latencies.begin(), latencies.end());
  r.p50_us = latencies[latencies.size() / 2];
  r.p99_us = latencies[latencies.size() * 99 / 100];
  (void)js.delete_stream("RIVER");
  return r;
}

double tcp(const WorkloadSpec& spec, int port) {
  Endpoint ep;
  ep.port = port;
  const WorkloadResult r = spec.mode.starts_with("js-") ? run_js_workload(spec, ep) : run_workload(spec, ep);
  if (!r.ok || r.lost != 0) throw std::runtime_error("embedded: TCP " + spec.mode + " failed: " + r.error);
  return r.msgs_per_s;
}

}  // namespace

int cmd_embedded(const std::vector<std::string>& args, const std::string& command_line) {
  const Args a = parse(args);
  const auto dir = std::filesystem::temp_directory_path() / ("forest-bench-embedded-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  Config config;
  config.host = "127.0.0.1";
  config.client_port = 0;
  config.monitor_port = -1;
  config.data_dir = dir.string();
  config.log_sink = [](LogLevel, std::string_view) {};
  Server server(config);
  if (auto r = server.start(); !r) throw std::runtime_error("embedded: start: " + r.error().text);
  const int port = server.client_port();

  WorkloadSpec pubsub;
  pubsub.mode = "pubsub";
  pubsub.msgs = a.msgs;
  pubsub.size = a.size;
  WorkloadSpec jspub;
  jspub.mode = "js-pub";
  jspub.msgs = a.js_msgs;
  jspub.size = a.size;
  jspub.window = 1;

  std::vector<double> tcp_ps, inp_ps, inp_batch, tcp_js, inp_js, river_rate, river_p50, river_p99;
  for (int round = 0; round < a.rounds; ++round) {
    // ABBA: which side goes first alternates, so a drift of the machine hits both.
    const bool tcp_first = round % 2 == 0;
    for (int side = 0; side < 2; ++side) {
      if ((side == 0) == tcp_first) {
        tcp_ps.push_back(tcp(pubsub, port));
        tcp_js.push_back(tcp(jspub, port));
      } else {
        inp_ps.push_back(inprocess_pubsub(server, a.msgs, a.size, 0));
        inp_batch.push_back(inprocess_pubsub(server, a.msgs, a.size, a.batch));
        inp_js.push_back(inprocess_js_pub(server, a.js_msgs, a.size));
      }
    }
    const RiverResult rr = inprocess_river(server, a.js_msgs, a.size);
    river_rate.push_back(rr.rate);
    river_p50.push_back(rr.p50_us);
    river_p99.push_back(rr.p99_us);
    std::cerr << "round " << round + 1 << ": pubsub tcp " << tcp_ps.back() << " in-process " << inp_ps.back()
              << " batched " << inp_batch.back()
              << " | js-pub tcp " << tcp_js.back() << " in-process " << inp_js.back() << "\n";
  }
  server.shutdown();
  std::filesystem::remove_all(dir);
  const double ps_ratio = median(inp_ps) / median(tcp_ps);
  const double js_ratio = median(inp_js) / median(tcp_js);
  std::cout << command_line << "\n"
            << "workload            tcp msgs/s    in-process msgs/s   ratio   bar\n";
  std::printf("pubsub %5zu B      %12.0f  %18.0f   %5.2fx  2.0x\n", a.size, median(tcp_ps), median(inp_ps), ps_ratio);
  std::printf("pubsub %5zu B, publish_batch(%zu) %5.0f  %12.0f   %5.2fx  2.0x\n", a.size, a.batch, median(tcp_ps),
              median(inp_batch), median(inp_batch) / median(tcp_ps));
  std::printf("js-pub sync %5zu B %12.0f  %18.0f   %5.2fx  1.5x\n", a.size, median(tcp_js), median(inp_js), js_ratio);
  std::printf("river flow->observe %zu B: %.0f msgs/s, latency p50 %.0f us, p99 %.0f us (medians of the rounds)\n",
              a.size, median(river_rate), median(river_p50), median(river_p99));
  return 0;
}

}  // namespace forest::bench

// Workloads of forest-bench against any NATS server: what is sent, what is checked, what is
// measured. Every message that carries at least 8 payload bytes is numbered, so subscribers
// count lost, duplicated and reordered messages; a run that loses any is a failed run.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench_client.hpp"
#include "histogram.hpp"

namespace forest::bench {

struct WorkloadSpec {
  std::string mode = "pubsub";  // pub, sub, pubsub, queue, reqrep, many-subjects, idle-conns,
                                // js-pub, js-consume, kv
  uint64_t msgs = 1'000'000;    // per run (ignored when duration_s > 0)
  double duration_s = 0;        // publish for this long instead of a count
  std::size_t size = 16;        // payload bytes
  int pubs = 1;
  int subs = 1;
  double rate = 0;              // total target msgs/s; 0 = as fast as possible
  uint64_t subjects = 100'000;  // many-subjects; kv: number of keys
  int conns = 10'000;           // idle-conns
  std::string label;            // name in reports; derived when empty
  uint64_t window = 1;          // js-pub: publishes in flight (1 = synchronous)
  uint64_t batch = 256;         // js-consume: pull batch size
  std::string consumer = "pull";  // js-consume: pull or push
  std::string generator = "lean";  // publishers: "lean" (ours) or "libnats" (to show ours is not the limit)
  int nodes = 0;                // cluster only: cluster size (0 = the command's --nodes)
  std::string sub_nodes;        // cluster only: nodes the subscribers are spread over ("1", "1-2")

  [[nodiscard]] std::string name() const;
};

struct WorkloadResult {
  std::string name;
  std::string mode;
  bool ok = false;
  std::string error;
  uint64_t sent = 0;       // published
  uint64_t expected = 0;   // deliveries expected
  uint64_t received = 0;   // deliveries seen
  uint64_t lost = 0, duplicated = 0, reordered = 0;
  std::vector<uint64_t> per_subscriber;  // deliveries seen by each subscriber (shows where a queue group's went)
  double elapsed_s = 0;
  double msgs_per_s = 0;   // the mode's headline rate
  uint64_t counted_msgs = 0;  // what msgs_per_s counts (for CPU per message)
  std::optional<Histogram> latency;
  // Filled by the caller that owns the server process:
  double server_cpu_s = 0;
  double server_cpu_resolution_s = 0;  // granularity of the CPU source (proc_stats.hpp)
  int64_t server_peak_rss = 0;
  int64_t server_idle_rss = 0;  // idle-conns: before connecting
  double client_cpu_s = 0;      // the bench's own CPU over the run
  double mesh_formation_s = 0;  // cluster runs: joining nodes launched until every node has all routes

  [[nodiscard]] double cpu_per_million() const {
    return counted_msgs == 0 ? 0 : server_cpu_s / (static_cast<double>(counted_msgs) / 1e6);
  }
};

// CPU seconds this (bench) process has used so far.
double self_cpu_seconds();

// Runs one workload against the server at `ep`. Never throws: failures are in the result.
WorkloadResult run_workload(const WorkloadSpec& spec, const Endpoint& ep);

// Where a workload's connections go: one server for all (run, compare), or in a cluster the
// publishers on one node and the subscribers spread over others (forest-bench cluster).
struct Placement {
  Endpoint publishers;
  std::vector<Endpoint> subscribers;  // subscriber i connects to subscribers[i % size()]
  // Called once every subscription is in place (each subscriber's PING answered), before the
  // first publish, with the subject subscribed to: waits until the publishers' server has the
  // interest. Returns "" when ready, else why not (the run fails with it).
  std::function<std::string(std::string_view subject)> ready;
};
// pub, sub, pubsub and queue with a placement (other modes need one server: use the above).
WorkloadResult run_workload(const WorkloadSpec& spec, const Placement& where);

// JetStream modes (js_workloads.cpp); the server must run with JetStream enabled.
WorkloadResult run_js_workload(const WorkloadSpec& spec, const Endpoint& ep);
[[nodiscard]] inline bool is_jetstream_mode(const std::string& mode) {
  return mode == "js-pub" || mode == "js-consume" || mode == "kv";
}

// Parses "pubsub:size=16,subs=4,msgs=1000000" (mode, then options) into a spec.
std::optional<WorkloadSpec> parse_workload(const std::string& text, std::string* error);

}  // namespace forest::bench

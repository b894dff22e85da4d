// A cluster of N servers of one kind on 127.0.0.1 for one benchmark run: every node on
// ephemeral ports ("-a 127.0.0.1 -p -1 -m -1 --cluster nats://127.0.0.1:-1 --cluster_name bench"),
// nodes 1..N-1 with "--routes" to node 0's route port (learned from its log), the full mesh
// formed by gossip. Owned by the thread running the run; its nodes are stopped on destruction.
// Every wait is bounded: a cluster that does not form, or interest that does not arrive, is an
// error naming the nodes and what they reported, never a hang.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench_client.hpp"
#include "proc_stats.hpp"
#include "server_process.hpp"

namespace forest::bench {

class BenchCluster {
 public:
  // `argv` is the server command (binary first). Throws std::runtime_error (with the failing
  // node's log) when a node does not start or the mesh has not formed within `mesh_timeout`.
  static std::unique_ptr<BenchCluster> start(const std::vector<std::string>& argv, int nodes,
                                             std::chrono::milliseconds mesh_timeout = std::chrono::seconds(20));
  ~BenchCluster();
  BenchCluster(const BenchCluster&) = delete;
  BenchCluster& operator=(const BenchCluster&) = delete;

  [[nodiscard]] int size() const { return static_cast<int>(nodes_.size()); }
  [[nodiscard]] Endpoint client(int node) const;
  // From launching node 1 (node 0 already listening) until one sweep of /routez found every
  // node with a route to each other node (and no other): includes the joining processes' start.
  [[nodiscard]] double mesh_formation_s() const { return mesh_formation_s_; }

  // Waits until node `at`'s routes to each node in `from` list interest in `subject`, so a
  // publisher on `at` loses nothing to interest still in flight. Returns "" or why not.
  [[nodiscard]] std::string wait_for_interest(int at, const std::vector<int>& from, std::string_view subject,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Server CPU summed over the nodes (seconds) and its source's resolution.
  [[nodiscard]] CpuTime cpu() const;
  // Peak RSS per node, summed, between start_rss_sampling() and stop_rss_sampling().
  void start_rss_sampling();
  [[nodiscard]] int64_t stop_rss_sampling();
  // "" while every node runs; else which exited, with the end of its log.
  [[nodiscard]] std::string exited_nodes();
  void stop();

 private:
  BenchCluster() = default;
  struct Node {
    std::unique_ptr<forest::testing::ServerProcess> proc;
    std::string server_id;
  };
  [[nodiscard]] std::string wait_for_mesh(std::chrono::steady_clock::time_point deadline);

  std::vector<Node> nodes_;
  std::vector<std::unique_ptr<RssSampler>> rss_;
  double mesh_formation_s_ = 0;
};

// The last `max` bytes of a log, for error messages.
[[nodiscard]] std::string log_tail(const std::string& log, std::size_t max = 1500);

}  // namespace forest::bench

// Reports of forest-bench: a terminal table, JSON, CSV, and an offline HTML page with SVG charts
// (rate and server CPU per message by workload, latency percentiles).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "workloads.hpp"

namespace forest::bench {

// All rounds of one workload on one server.
struct Series {
  std::string server;  // "A" or "B"
  std::string command;
  std::vector<WorkloadResult> rounds;

  [[nodiscard]] double median_rate() const;
  [[nodiscard]] double min_rate() const;
  [[nodiscard]] double max_rate() const;
  [[nodiscard]] double median_cpu_per_million() const;
  // Some round's server CPU was under its source's resolution: print that, not a zero.
  [[nodiscard]] bool cpu_below_resolution() const;
  [[nodiscard]] double median_client_cpu() const;
  [[nodiscard]] double median_quantile(double q) const;  // latency, ns
  [[nodiscard]] int64_t median_peak_rss() const;
  [[nodiscard]] int64_t median_idle_rss() const;
  // Cluster runs: launch of the joining nodes until the full mesh (seconds).
  [[nodiscard]] double median_mesh_s() const;
  [[nodiscard]] double min_mesh_s() const;
  [[nodiscard]] double max_mesh_s() const;
  [[nodiscard]] bool all_ok() const;
};

struct Comparison {
  std::string workload;
  Series a, b;
};

struct ReportMeta {
  std::string command_line;
  std::string machine;
  std::string date;
  int rounds = 0;
};

std::string render_table(const std::vector<Comparison>& rows);
std::string render_json(const ReportMeta& meta, const std::vector<Comparison>& rows);
std::string render_csv(const std::vector<Comparison>& rows);
std::string render_html(const ReportMeta& meta, const std::vector<Comparison>& rows);

// One-off runs (forest-bench run).
std::string render_single(const WorkloadResult& r);
std::string result_json(const WorkloadResult& r);

std::string machine_description();

// Formatting shared with the hostile-client report.
std::string human_ns(double ns);
std::string human_bytes(double bytes);
std::string json_escape(std::string_view s);

}  // namespace forest::bench

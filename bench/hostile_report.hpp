// Reports of the hostile-client benchmark: per attack, A beside B (medians over rounds) in a
// terminal table, and every run in JSON and CSV.
#pragma once

#include <string>
#include <vector>

#include "hostile.hpp"
#include "report.hpp"

namespace forest::bench {

struct HostileMeta {
  ReportMeta base;
  std::string a_command, b_command;
  double scale = 1.0;
};

std::string render_hostile_table(const HostileMeta& meta, const std::vector<Attack>& attacks,
                                 const std::vector<HostileRun>& runs);
std::string render_hostile_json(const HostileMeta& meta, const std::vector<HostileRun>& runs);
std::string render_hostile_csv(const std::vector<HostileRun>& runs);

}  // namespace forest::bench

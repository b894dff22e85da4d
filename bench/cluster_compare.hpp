// forest-bench cluster: cross-route workloads against a cluster of A servers and a cluster of
// B servers of the same shape, a fresh cluster per run, ABBA order over the rounds (issue 7).
#pragma once

#include <string>
#include <vector>

namespace forest::bench {

int cmd_cluster(const std::vector<std::string>& args, const std::string& command_line);

}  // namespace forest::bench

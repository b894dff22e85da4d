// forest-bench embedded: the in-process client of libforest against loopback TCP on the same
// embedded server (this process), alternating rounds, medians and ratios (issue 9's bars:
// pub/sub at least 2x, JetStream publish-with-ack at least 1.5x).
#pragma once

#include <string>
#include <vector>

namespace forest::bench {

int cmd_embedded(const std::vector<std::string>& args, const std::string& command_line);

}  // namespace forest::bench

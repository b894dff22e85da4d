// `forest status`: what a node's monitoring endpoint says about it (node, peers and routes,
// streams and consumers), as a short text report.
#pragma once

#include <ostream>
#include <string>

namespace forest::cli {

// Returns the exit code: 0 shown, 1 the endpoint could not be read.
int show_status(const std::string& monitor_url, std::ostream& out, std::ostream& err);

}  // namespace forest::cli

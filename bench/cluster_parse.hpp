// What the cluster benchmark reads from the servers it starts: the route port from a server's
// log, and /routez (both nats-server's indented JSON and forest-server's compact one). Pure
// functions, no I/O, so they are tested against recorded bodies (bench/tests/).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forest::bench {

// The port at the end of the first complete log line containing `marker`
// ("... Listening for route connections on 127.0.0.1:39549\n"); 0 while there is no such
// complete line yet (the line may arrive in two reads).
[[nodiscard]] int port_from_log(std::string_view log, std::string_view marker);

// One route as /routez lists it: the remote server's id and, with ?subs=1, the subjects the
// remote has interest in (nats-server lists the subject, forest-server "subject queue").
struct RouteEntry {
  std::string remote_id;
  std::vector<std::string> subs;
};

struct Routez {
  std::string server_id;
  int64_t num_routes = 0;
  std::vector<RouteEntry> routes;
};

[[nodiscard]] std::optional<Routez> parse_routez(std::string_view json, std::string* error);

// The route lists interest in `subject` (plain or as a queue group).
[[nodiscard]] bool route_has_interest(const RouteEntry& route, std::string_view subject);

// The node indexes subscribers are spread over: "1" or "1-2", each in [0, nodes).
struct NodeRange {
  int first = 0;
  int last = 0;
};
[[nodiscard]] std::optional<NodeRange> parse_node_range(std::string_view text, int nodes, std::string* error);

// "VAR=value ... binary args" as argv; leading assignments become "/usr/bin/env VAR=value ...",
// which execs the server in place, so the pid the bench watches is the server's own.
[[nodiscard]] std::vector<std::string> split_server_command(const std::string& cmd);

}  // namespace forest::bench

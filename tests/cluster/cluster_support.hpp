// Helpers for the multi-process cluster tests: a node (forest-server or nats-server 2.9.10)
// started on ephemeral client, route and monitoring ports; its /routez parsed; polling with
// a deadline; and a raw protocol client that reads MSG/HMSG exactly as they come off the wire.
//
// Everything here is used from the test's thread only (the servers are separate processes).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server_process.hpp"

namespace forest::testing {

enum class Impl { forest, nats };

[[nodiscard]] const char* impl_name(Impl impl);

// The kind a node gets when the test does not say: forest-server, or nats-server when the
// environment has FOREST_CLUSTER_ORACLE=1 (to check the forest-only tests against the
// reference: `FOREST_CLUSTER_ORACLE=1 cluster-tests '~[mixed]'`).
[[nodiscard]] Impl default_impl();

// Whether a node, or a set of nodes, includes a forest-server.
[[nodiscard]] bool has_forest(Impl impl);
[[nodiscard]] bool has_forest(const std::pair<Impl, Impl>& impls);
[[nodiscard]] bool has_forest(const std::vector<Impl>& impls);

// The server combinations a case is generated for: all of `combos`, or under
// FOREST_SKIP_ORACLE=1 (skip_oracle_only()) only those with a forest-server.
// Use: GENERATE(from_range(oracle_filtered(std::vector<...>{...}))).
template <class Combo>
[[nodiscard]] std::vector<Combo> oracle_filtered(std::vector<Combo> combos) {
  if (skip_oracle_only()) std::erase_if(combos, [](const Combo& c) { return !has_forest(c); });
  return combos;
}

// How to start a node. Ports of 0 are picked by the server ("-1"); a restart reuses the
// ports it had.
struct NodeSpec {
  Impl impl = default_impl();
  std::string name;                       // server_name, also used in messages
  std::string cluster_name = "ctest";     // empty: no --cluster_name (a dynamic one)
  std::vector<std::string> routes = {};   // --routes
  std::vector<std::string> extra = {};    // more flags (e.g. "-c", file)
  bool cluster_flag = true;               // pass --cluster (false when a config file has it)
  int client_port = 0, route_port = 0, http_port = 0;
};

class Node {
 public:
  explicit Node(NodeSpec spec);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  [[nodiscard]] const NodeSpec& spec() const { return spec_; }
  [[nodiscard]] const std::string& name() const { return spec_.name; }
  [[nodiscard]] Impl impl() const { return spec_.impl; }
  [[nodiscard]] int client_port() const { return spec_.client_port; }
  [[nodiscard]] int route_port() const { return spec_.route_port; }
  [[nodiscard]] int http_port() const { return spec_.http_port; }
  [[nodiscard]] std::string client_url() const;
  [[nodiscard]] std::string route_url() const;  // nats://127.0.0.1:<route port>
  [[nodiscard]] const std::string& server_id() const { return server_id_; }
  [[nodiscard]] ServerProcess& process() { return *proc_; }
  [[nodiscard]] bool running() const { return proc_ != nullptr && proc_->running(); }
  [[nodiscard]] std::string log() const { return proc_ ? proc_->log() : last_log_; }

  // SIGKILL: no goodbye to clients or routes (a crash).
  void kill();
  // Starts again on the same client, route and monitoring ports.
  void restart();
  void stop();

 private:
  void launch();

  NodeSpec spec_;
  std::unique_ptr<ServerProcess> proc_;
  std::string server_id_;
  std::string last_log_;
};

[[nodiscard]] std::unique_ptr<Node> start_node(NodeSpec spec);

// One entry of /routez.
struct RouteView {
  std::string remote_id;
  std::string remote_name;
  int64_t rid = 0;
  int64_t in_msgs = 0, out_msgs = 0;
  int64_t subscriptions = 0;
  std::vector<std::string> subs;  // subscriptions_list; nats-server lists the subject only
};

struct Routez {
  bool ok = false;  // the body parsed
  std::string server_id;
  std::vector<RouteView> routes;

  [[nodiscard]] std::set<std::string> remote_ids() const;
  [[nodiscard]] const RouteView* to(const std::string& server_id) const;
};

[[nodiscard]] Routez routez(const Node& node);

// Polls `pred` every 50 ms until it holds or `timeout` passes; returns its last value.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// True when every node has exactly one route to each other node and none else.
[[nodiscard]] bool mesh_complete(const std::vector<Node*>& nodes, std::string* why = nullptr);
// Waits for mesh_complete; on timeout `why` says what was missing.
bool wait_mesh(const std::vector<Node*>& nodes, std::chrono::milliseconds timeout, std::string* why = nullptr);

// True when `node`'s route to `from` lists a subscription on `subject` (the first word of an
// entry: ours writes "subject queue" for a queue subscription, nats-server the subject).
[[nodiscard]] bool has_remote_sub(const Node& node, const Node& from, const std::string& subject);
bool wait_remote_sub(const Node& node, const Node& from, const std::string& subject,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
bool wait_no_remote_sub(const Node& node, const Node& from, const std::string& subject,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Occurrences of `text` in `log`.
[[nodiscard]] std::size_t count_in(const std::string& log, const std::string& text);

// A written temporary file, removed with the object.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Msg {
  bool hmsg = false;
  std::string subject, sid, reply;
  std::string headers;  // HMSG: the header block, "NATS/1.0\r\n...\r\n\r\n"
  std::string payload;
};

// A raw NATS client (CONNECT with headers on, verbose off): protocol bytes in, parsed MSG/HMSG
// out; PINGs from the server are answered while reading.
class Client {
 public:
  // `login`: more CONNECT fields, e.g. R"("user":"a","pass":"p")"; empty: none.
  explicit Client(const Node& node, const std::string& login = "");
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] bool ok() const { return fd_ >= 0 && errors_.empty(); }
  [[nodiscard]] const std::string& info() const { return info_; }
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }

  void sub(const std::string& subject, const std::string& sid, const std::string& queue = "");
  void unsub(const std::string& sid);
  void pub(const std::string& subject, const std::string& payload, const std::string& reply = "");
  void hpub(const std::string& subject, const std::string& headers, const std::string& payload);
  void send_raw(const std::string& bytes);
  // PING, then waits for the PONG (messages read meanwhile are kept for next()).
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The next message, or nullopt after `timeout`.
  std::optional<Msg> next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void close();

 private:
  // Reads and parses what arrives until `until` holds or the deadline passes.
  bool pump(const std::function<bool()>& until, std::chrono::steady_clock::time_point deadline);
  bool parse_one();  // one complete protocol line (and payload) from buf_; false when incomplete

  int fd_ = -1;
  std::string buf_;
  std::string info_;
  std::vector<std::string> errors_;
  std::vector<Msg> msgs_;  // parsed, not yet returned (front first)
  std::size_t msgs_head_ = 0;
  int pongs_ = 0;
};

}  // namespace forest::testing

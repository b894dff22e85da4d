// A throwaway IPv6 network of Linux network namespaces for cluster tests.
//
// One namespace per node (`forest-netns-<pid>-<i>`), each with a veth (`eth0` inside) whose
// other end (`fzv<pid>-<i>`) is a port of a bridge in the root namespace (`fzb<pid>`), so the
// test process reaches every node directly. Addresses are ULAs on a /64 of this run alone
// (`fdf0:<pid high>:<pid low>::<i>`, the bridge `::ff`), added with `nodad` so that they are
// usable at once. A partition is the root-side veth of a node set down; heal sets it up.
//
// Everything the lab creates carries the creating process's pid in its name: the destructor
// deletes it all (also when a test fails), and `create()` first removes what earlier runs left
// behind when their process is gone (a test binary killed mid-run), stopping, by pid, the
// servers still running in those namespaces.
//
// Owned by one test, used from its thread; the processes run inside the namespaces must be
// stopped before the lab is destroyed (deleting a namespace does not end its processes).
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <vector>

namespace forest::testing {

class NetnsLab {
 public:
  // Why this machine cannot run the lab (not root, no iproute2); "" when it may.
  [[nodiscard]] static std::string unavailable_reason();
  // Builds `nodes` namespaces (1-based indexes). On failure everything built is removed and
  // the error says which command failed and what it printed.
  [[nodiscard]] static std::expected<std::unique_ptr<NetnsLab>, std::string> create(int nodes);
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  [[nodiscard]] int nodes() const { return nodes_; }
  [[nodiscard]] std::string ns(int i) const;
  [[nodiscard]] std::string address(int i) const;  // "fdf0:0:1234::2"
  [[nodiscard]] std::string bridge_address() const;
  // "nats://[fdf0:0:1234::2]:6222"
  [[nodiscard]] std::string url(int i, int port) const;

  // The path of `ip` and the arguments that run `binary args...` in node i's namespace
  // (`ip netns exec` execs, so the started process is the binary itself).
  [[nodiscard]] static const std::string& ip_binary();
  [[nodiscard]] std::vector<std::string> exec_args(int i, const std::string& binary,
                                                   const std::vector<std::string>& args) const;

  // Partition and heal: node i's root-side veth down or up. Returns the error, "" on success.
  std::string set_link(int i, bool up);

  // Runs `fn` with the calling thread in node i's network namespace (sockets it creates stay
  // there), then returns to the original namespace, also when `fn` throws.
  template <class F>
  auto in_node(int i, F&& fn) {
    const ThreadNetns enter(ns(i));
    return fn();
  }

 private:
  class ThreadNetns {
   public:
    explicit ThreadNetns(const std::string& ns);
    ~ThreadNetns();
    ThreadNetns(const ThreadNetns&) = delete;
    ThreadNetns& operator=(const ThreadNetns&) = delete;

   private:
    int original_ = -1;
  };

  explicit NetnsLab(int nodes);
  [[nodiscard]] std::string build();
  void teardown();
  static void remove_leftovers();

  int nodes_;
  std::string tag_;     // the pid
  std::string prefix_;  // "fdf0:<hi>:<lo>::"
};

// Runs a command (no shell), returns its exit status (-1 when it could not run) and, in
// `output`, what it printed on stdout and stderr.
int run_command(const std::vector<std::string>& args, std::string* output = nullptr);

}  // namespace forest::testing

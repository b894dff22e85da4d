#include "netns_lab.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace forest::testing {
namespace {

constexpr const char* kNsPrefix = "forest-netns-";  // + pid + "-" + index
constexpr const char* kNetnsDir = "/var/run/netns/";  // where `ip netns add` names them

std::string bridge_name(const std::string& tag) { return "fzb" + tag; }
std::string root_veth(const std::string& tag, int i) { return "fzv" + tag + "-" + std::to_string(i); }
std::string peer_veth(const std::string& tag, int i) { return "fzp" + tag + "-" + std::to_string(i); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The pid in a name made by a lab ("forest-netns-<pid>-<i>", "fzb<pid>", "fzv<pid>-<i>"), or 0.
pid_t pid_in(const std::string& name) {
  std::string rest;
  if (name.rfind(kNsPrefix, 0) == 0) {
    rest = name.substr(std::strlen(kNsPrefix));
  } else if (name.size() > 3 && (name.rfind("fzb", 0) == 0 || name.rfind("fzv", 0) == 0 || name.rfind("fzp", 0) == 0)) {
    rest = name.substr(3);
  } else {
    return 0;
  }
  pid_t pid = 0;
  std::size_t k = 0;
  while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9') pid = pid * 10 + (rest[k++] - '0');
  if (k == 0 || (k < rest.size() && rest[k] != '-')) return 0;
  return pid;
}

// A lab of this process (an earlier one that failed to clean up) or of a process that is gone.
bool stale_owner(pid_t pid) {
  if (pid <= 0) return false;
  if (pid == ::getpid()) return true;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

std::string describe(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

int run_command(const std::vector<std::string>& args, std::string* output) {
  int fds[2];
  if (args.empty() || ::pipe2(fds, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(args[0].c_str(), argv.data());
    std::fprintf(stderr, "exec %s failed: %s\n", args[0].c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const std::string& NetnsLab::ip_binary() {
  static const std::string path = [] {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
      if (::access(p, X_OK) == 0) return std::string(p);
    }
    return std::string();
  }();
  return path;
}

std::string NetnsLab::unavailable_reason() {
  if (::geteuid() != 0) return "not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)";
  if (ip_binary().empty()) return "iproute2's `ip` is not installed";
  if (::access("/proc/thread-self/ns/net", R_OK) != 0) return "no /proc/thread-self/ns/net";
  return "";
}

NetnsLab::NetnsLab(int nodes) : nodes_(nodes), tag_(std::to_string(::getpid())) {
  const auto pid = static_cast<unsigned>(::getpid());
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "fdf0:%x:%x::", (pid >> 16) & 0xffffU, pid & 0xffffU);
  prefix_ = prefix;
}

std::expected<std::unique_ptr<NetnsLab>, std::string> NetnsLab::create(int nodes) {
  if (const std::string why = unavailable_reason(); !why.empty()) return std::unexpected(why);
  remove_leftovers();
  std::unique_ptr<NetnsLab> lab(new NetnsLab(nodes));
  if (std::string err = lab->build(); !err.empty()) return std::unexpected(err);  // ~NetnsLab tears down
  return lab;
}

std::string NetnsLab::build() {
  const std::string& ip = ip_binary();
  std::vector<std::vector<std::string>> steps;
  const std::string br = bridge_name(tag_);
  steps.push_back({ip, "link", "add", br, "type", "bridge"});
  steps.push_back({ip, "addr", "add", bridge_address() + "/64", "dev", br, "nodad"});
  steps.push_back({ip, "link", "set", br, "up"});
  for (int i = 1; i <= nodes_; ++i) {
    const std::string n = ns(i);
    steps.push_back({ip, "netns", "add", n});
    steps.push_back({ip, "link", "add", root_veth(tag_, i), "type", "veth", "peer", "name", peer_veth(tag_, i), "netns", n});
    steps.push_back({ip, "-n", n, "link", "set", peer_veth(tag_, i), "name", "eth0"});
    steps.push_back({ip, "-n", n, "link", "set", "lo", "up"});
    steps.push_back({ip, "-n", n, "addr", "add", address(i) + "/64", "dev", "eth0", "nodad"});
    steps.push_back({ip, "-n", n, "link", "set", "eth0", "up"});
    steps.push_back({ip, "link", "set", root_veth(tag_, i), "master", br});
    steps.push_back({ip, "link", "set", root_veth(tag_, i), "up"});
  }
  for (const auto& step : steps) {
    std::string out;
    if (run_command(step, &out) != 0) return "`" + describe(step) + "` failed: " + out;
  }
  return "";
}

NetnsLab::~NetnsLab() { teardown(); }

void NetnsLab::teardown() {
  const std::string& ip = ip_binary();
  // Deleting a namespace deletes its end of the veth, and with it the root end.
  for (int i = 1; i <= nodes_; ++i) run_command({ip, "netns", "delete", ns(i)});
  for (int i = 1; i <= nodes_; ++i) run_command({ip, "link", "delete", root_veth(tag_, i)});  // if never moved
  run_command({ip, "link", "delete", bridge_name(tag_)});
}

void NetnsLab::remove_leftovers() {
  const std::string& ip = ip_binary();
  std::string out;
  run_command({ip, "netns", "list"}, &out);
  for (const auto& line : lines_of(out)) {
    const std::string name = line.substr(0, line.find(' '));
    if (name.rfind(kNsPrefix, 0) != 0 || !stale_owner(pid_in(name))) continue;
    // A crashed run's servers still live in it: stop them (by pid), then drop the name.
    std::string pids;
    run_command({ip, "netns", "pids", name}, &pids);
    for (const auto& p : lines_of(pids)) {
      const long pid = std::strtol(p.c_str(), nullptr, 10);
      if (pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
    run_command({ip, "netns", "delete", name});
  }
  run_command({ip, "-o", "link", "show"}, &out);
  for (const auto& line : lines_of(out)) {
    // "12: fzv1234-1@if11: <BROADCAST,..."
    const auto start = line.find(": ");
    if (start == std::string::npos) continue;
    const auto end = line.find_first_of("@:", start + 2);
    const std::string name = line.substr(start + 2, end - start - 2);
    if (pid_in(name) == 0 || name.rfind(kNsPrefix, 0) == 0 || !stale_owner(pid_in(name))) continue;
    run_command({ip, "link", "delete", name});
  }
}

std::string NetnsLab::ns(int i) const { return kNsPrefix + tag_ + "-" + std::to_string(i); }
std::string NetnsLab::address(int i) const { return prefix_ + std::to_string(i); }
std::string NetnsLab::bridge_address() const { return prefix_ + "ff"; }
std::string NetnsLab::url(int i, int port) const { return "nats://[" + address(i) + "]:" + std::to_string(port); }

std::vector<std::string> NetnsLab::exec_args(int i, const std::string& binary, const std::vector<std::string>& args) const {
  std::vector<std::string> out{"netns", "exec", ns(i), binary};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::string NetnsLab::set_link(int i, bool up) {
  std::string out;
  const std::vector<std::string> cmd{ip_binary(), "link", "set", root_veth(tag_, i), up ? "up" : "down"};
  if (run_command(cmd, &out) == 0) return "";
  std::string err = "`";
  err += describe(cmd);
  err += "` failed: ";
  err += out;
  return err;
}

NetnsLab::ThreadNetns::ThreadNetns(const std::string& ns) {
  original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open((kNetnsDir + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (original_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    const std::string why = std::strerror(errno);
    if (target >= 0) ::close(target);
    if (original_ >= 0) ::close(original_);
    throw std::runtime_error("cannot enter network namespace " + ns + ": " + why);
  }
  ::close(target);
}

NetnsLab::ThreadNetns::~ThreadNetns() {
  // Failing to come back would run the rest of the test in a node's namespace: stop instead.
  if (::setns(original_, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "cannot return to the original network namespace: %s\n", std::strerror(errno));
    std::abort();
  }
  ::close(original_);
}

}  // namespace forest::testing

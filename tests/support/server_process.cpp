#include "server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace forest::testing {
namespace {

int port_after(const std::string& log, const std::string& marker) {
  const auto at = log.find(marker);
  if (at == std::string::npos) return 0;
  const auto eol = log.find('\n', at);
  const std::string line = log.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
  const auto colon = line.rfind(':');
  if (colon == std::string::npos) return 0;
  return std::atoi(line.c_str() + colon + 1);
}

bool wants_http(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "-m" || a == "--m" || a == "-http_port" || a == "--http_port" || a.rfind("-m=", 0) == 0 ||
        a.rfind("--http_port=", 0) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool skip_oracle_only() {
  static const bool skip = [] {
    const char* v = std::getenv("FOREST_SKIP_ORACLE");
    const bool on = v != nullptr && std::string(v) == "1";
    if (on) std::fprintf(stderr, "FOREST_SKIP_ORACLE=1: cases that start nats-server alone are left out\n");
    return on;
  }();
  return skip;
}

std::vector<std::string> server_kinds() {
  if (skip_oracle_only()) return {"forest"};
  return {"forest", "nats"};
}

std::string ServerProcess::forest_binary() {
  // FOREST_TEST_SERVER (CI's sanitizer passes) wins over the build's own (FOREST_SERVER).
  const char* p = std::getenv("FOREST_TEST_SERVER");
  if (p != nullptr && *p != '\0') return p;
  p = std::getenv("FOREST_SERVER");
  return p != nullptr ? p : "build/app/forest-server";
}

std::string ServerProcess::nats_binary() {
  const char* p = std::getenv("NATS_SERVER");
  return p != nullptr ? p : "/usr/sbin/nats-server";
}

std::unique_ptr<ServerProcess> ServerProcess::start(const std::string& binary, const std::vector<std::string>& args,
                                                    std::chrono::milliseconds timeout, const std::string& log_file) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::unique_ptr<ServerProcess> p(new ServerProcess());
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "exec %s failed: %s\n", binary.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  p->pid_ = pid;
  p->out_fd_ = fds[0];
  p->reader_ = std::thread([raw = p.get()] { raw->read_output(); });

  const bool need_http = wants_http(args);
  std::unique_lock lock(p->mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    std::string text = p->log_;
    if (!log_file.empty()) {
      std::ifstream in(log_file);
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    p->client_port_ = port_after(text, "Listening for client connections on ");
    if (need_http) p->http_port_ = port_after(text, "Starting http monitor on ");
    ready = p->client_port_ > 0 && (!need_http || p->http_port_ > 0);
    if (ready || (p->eof_ && log_file.empty())) break;
    p->cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  if (!ready || p->client_port_ == 0) {
    const std::string log = p->log_;
    lock.unlock();
    p->stop(std::chrono::milliseconds(500));
    throw std::runtime_error("server " + binary + " did not start; its output:\n" + log);
  }
  return p;
}

void ServerProcess::read_output() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    std::lock_guard lock(mu_);
    log_.append(buf, static_cast<std::size_t>(n));
    cv_.notify_all();
  }
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

std::string ServerProcess::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

bool ServerProcess::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return log_.find(text) != std::string::npos || eof_; }) &&
         log_.find(text) != std::string::npos;
}

int ServerProcess::route_port(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] {
    route_port_ = port_after(log_, "Listening for route connections on ");
    return route_port_ > 0 || eof_;
  });
  return route_port_;
}

bool ServerProcess::running() {
  if (exited_ || pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exited_ = true;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return false;
  }
  return true;
}

void ServerProcess::send_signal(int sig) const {
  if (pid_ > 0 && !exited_) ::kill(pid_, sig);
}

int ServerProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (running()) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exited_ = true;
      exit_status_ = -1;
    }
  }
  if (reader_.joinable()) reader_.join();
  if (out_fd_ >= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
  }
  return exit_status_;
}

ServerProcess::~ServerProcess() { stop(std::chrono::seconds(2)); }

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace forest::testing

#include "cluster_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "http_get.hpp"

namespace forest::testing {
namespace {

std::string port_arg(int port) { return port > 0 ? std::to_string(port) : "-1"; }

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

int64_t int_field(simdjson::dom::element e, const char* key) {
  int64_t v = -1;
  if (e[key].get_int64().get(v) != simdjson::SUCCESS) return -1;
  return v;
}

}  // namespace

const char* impl_name(Impl impl) { return impl == Impl::forest ? "forest" : "nats"; }

Impl default_impl() {
  const char* v = std::getenv("FOREST_CLUSTER_ORACLE");
  return v != nullptr && std::string(v) == "1" ? Impl::nats : Impl::forest;
}

bool has_forest(Impl impl) { return impl == Impl::forest; }
bool has_forest(const std::pair<Impl, Impl>& impls) { return has_forest(impls.first) || has_forest(impls.second); }
bool has_forest(const std::vector<Impl>& impls) {
  return std::ranges::any_of(impls, [](Impl impl) { return has_forest(impl); });
}

// ---- Node ----------------------------------------------------------------------------------

Node::Node(NodeSpec spec) : spec_(std::move(spec)) { launch(); }

Node::~Node() { stop(); }

std::string Node::client_url() const { return "nats://127.0.0.1:" + std::to_string(spec_.client_port); }
std::string Node::route_url() const { return "nats://127.0.0.1:" + std::to_string(spec_.route_port); }

void Node::launch() {
  std::vector<std::string> args = {"-a", "127.0.0.1", "-p", port_arg(spec_.client_port), "-m", port_arg(spec_.http_port)};
  if (!spec_.name.empty()) args.insert(args.end(), {"-n", spec_.name});
  if (spec_.cluster_flag) args.insert(args.end(), {"--cluster", "nats://127.0.0.1:" + port_arg(spec_.route_port)});
  if (!spec_.cluster_name.empty()) args.insert(args.end(), {"--cluster_name", spec_.cluster_name});
  if (!spec_.routes.empty()) args.insert(args.end(), {"--routes", join(spec_.routes, ",")});
  args.insert(args.end(), spec_.extra.begin(), spec_.extra.end());
  const std::string binary = spec_.impl == Impl::forest ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
  proc_ = ServerProcess::start(binary, args);
  spec_.client_port = proc_->client_port();
  spec_.http_port = proc_->http_port();
  spec_.route_port = proc_->route_port();
  if (spec_.route_port == 0) throw std::runtime_error("no route port logged by " + spec_.name + ":\n" + proc_->log());
  // The id comes from /routez (same field in both servers); the monitor may need a moment.
  eventually([&] {
    server_id_ = routez(*this).server_id;
    return !server_id_.empty();
  }, std::chrono::seconds(5));
  if (server_id_.empty()) throw std::runtime_error("no /routez from " + spec_.name);
}

void Node::kill() {
  if (!proc_) return;
  proc_->send_signal(SIGKILL);
  proc_->stop(std::chrono::seconds(2));  // reaps it
  last_log_ = proc_->log();
  proc_.reset();
}

void Node::restart() {
  kill();
  launch();
}

void Node::stop() {
  if (!proc_) return;
  proc_->stop(std::chrono::seconds(5));
  last_log_ = proc_->log();
  proc_.reset();
}

std::unique_ptr<Node> start_node(NodeSpec spec) { return std::make_unique<Node>(std::move(spec)); }

// ---- /routez -------------------------------------------------------------------------------

std::set<std::string> Routez::remote_ids() const {
  std::set<std::string> ids;
  for (const auto& r : routes) ids.insert(r.remote_id);
  return ids;
}

const RouteView* Routez::to(const std::string& id) const {
  for (const auto& r : routes) {
    if (r.remote_id == id) return &r;
  }
  return nullptr;
}

Routez routez(const Node& node) {
  Routez z;
  const std::string body = http_get(node.http_port(), "/routez?subs=1");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (body.empty() || parser.parse(body).get(doc) != simdjson::SUCCESS) return z;
  std::string_view sv;
  if (doc["server_id"].get_string().get(sv) == simdjson::SUCCESS) z.server_id = std::string(sv);
  simdjson::dom::array routes;
  if (doc["routes"].get_array().get(routes) == simdjson::SUCCESS) {
    for (simdjson::dom::element r : routes) {
      RouteView v;
      if (r["remote_id"].get_string().get(sv) == simdjson::SUCCESS) v.remote_id = std::string(sv);
      if (r["remote_name"].get_string().get(sv) == simdjson::SUCCESS) v.remote_name = std::string(sv);
      v.rid = int_field(r, "rid");
      v.in_msgs = int_field(r, "in_msgs");
      v.out_msgs = int_field(r, "out_msgs");
      v.subscriptions = int_field(r, "subscriptions");
      simdjson::dom::array subs;
      if (r["subscriptions_list"].get_array().get(subs) == simdjson::SUCCESS) {
        for (simdjson::dom::element s : subs) {
          if (s.get_string().get(sv) == simdjson::SUCCESS) v.subs.emplace_back(sv);
        }
      }
      z.routes.push_back(std::move(v));
    }
  }
  z.ok = true;
  return z;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool mesh_complete(const std::vector<Node*>& nodes, std::string* why) {
  for (const Node* n : nodes) {
    const Routez z = routez(*n);
    std::multiset<std::string> got;
    for (const auto& r : z.routes) got.insert(r.remote_id);
    std::multiset<std::string> want;
    for (const Node* other : nodes) {
      if (other != n) want.insert(other->server_id());
    }
    if (!z.ok || got != want) {
      if (why != nullptr) {
        std::string names;
        for (const auto& r : z.routes) names += (r.remote_name.empty() ? r.remote_id : r.remote_name) + " ";
        *why = n->name() + " has " + std::to_string(z.routes.size()) + " routes (" + names + "), wants " +
               std::to_string(want.size());
      }
      return false;
    }
  }
  return true;
}

bool wait_mesh(const std::vector<Node*>& nodes, std::chrono::milliseconds timeout, std::string* why) {
  return eventually([&] { return mesh_complete(nodes, why); }, timeout);
}

bool has_remote_sub(const Node& node, const Node& from, const std::string& subject) {
  const Routez z = routez(node);
  const RouteView* r = z.to(from.server_id());
  if (r == nullptr) return false;
  for (const auto& s : r->subs) {
    if (s == subject || s.rfind(subject + " ", 0) == 0) return true;
  }
  return false;
}

bool wait_remote_sub(const Node& node, const Node& from, const std::string& subject, std::chrono::milliseconds timeout) {
  return eventually([&] { return has_remote_sub(node, from, subject); }, timeout);
}

bool wait_no_remote_sub(const Node& node, const Node& from, const std::string& subject,
                        std::chrono::milliseconds timeout) {
  return eventually([&] { return !has_remote_sub(node, from, subject); }, timeout);
}

std::size_t count_in(const std::string& log, const std::string& text) {
  std::size_t n = 0;
  for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + text.size())) ++n;
  return n;
}

TempFile::TempFile(const std::string& name, const std::string& text) {
  static int counter = 0;
  path_ = (std::filesystem::temp_directory_path() /
           ("forest-cluster-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" + name))
              .string();
  std::ofstream(path_) << text;
}

TempFile::~TempFile() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

// ---- Client --------------------------------------------------------------------------------

Client::Client(const Node& node, const std::string& login) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(node.client_port()));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close();
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  if (!pump([&] { return !info_.empty(); }, deadline)) {
    close();
    return;
  }
  send_raw(R"(CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1,"name":"ctest")" +
           (login.empty() ? std::string() : "," + login) + "}\r\n");
  if (!flush()) close();
}

Client::~Client() { close(); }

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Client::send_raw(const std::string& bytes) {
  std::size_t off = 0;
  while (fd_ >= 0 && off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      close();
      return;
    }
    off += static_cast<std::size_t>(n);
  }
}

void Client::sub(const std::string& subject, const std::string& sid, const std::string& queue) {
  send_raw("SUB " + subject + (queue.empty() ? "" : " " + queue) + " " + sid + "\r\n");
}

void Client::unsub(const std::string& sid) { send_raw("UNSUB " + sid + "\r\n"); }

void Client::pub(const std::string& subject, const std::string& payload, const std::string& reply) {
  send_raw("PUB " + subject + (reply.empty() ? "" : " " + reply) + " " + std::to_string(payload.size()) + "\r\n" +
           payload + "\r\n");
}

void Client::hpub(const std::string& subject, const std::string& headers, const std::string& payload) {
  send_raw("HPUB " + subject + " " + std::to_string(headers.size()) + " " + std::to_string(headers.size() + payload.size()) +
           "\r\n" + headers + payload + "\r\n");
}

bool Client::flush(std::chrono::milliseconds timeout) {
  const int want = pongs_ + 1;
  send_raw("PING\r\n");
  return pump([&] { return pongs_ >= want; }, std::chrono::steady_clock::now() + timeout);
}

std::optional<Msg> Client::next(std::chrono::milliseconds timeout) {
  if (!pump([&] { return msgs_head_ < msgs_.size(); }, std::chrono::steady_clock::now() + timeout)) return std::nullopt;
  Msg m = std::move(msgs_[msgs_head_++]);
  if (msgs_head_ == msgs_.size()) {
    msgs_.clear();
    msgs_head_ = 0;
  }
  return m;
}

bool Client::pump(const std::function<bool()>& until, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    while (parse_one()) {
    }
    if (until()) return true;
    if (fd_ < 0) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    pollfd p{fd_, POLLIN, 0};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    if (::poll(&p, 1, static_cast<int>(ms)) <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      close();
      continue;  // parse what is left, then report
    }
    buf_.append(chunk, static_cast<std::size_t>(n));
  }
}

bool Client::parse_one() {
  const auto eol = buf_.find("\r\n");
  if (eol == std::string::npos) return false;
  const std::string line = buf_.substr(0, eol);
  const auto words = split_words(line);
  std::size_t consumed = eol + 2;
  if (words.empty()) {
    buf_.erase(0, consumed);
    return true;
  }
  const std::string& op = words[0];
  if (op == "MSG" || op == "HMSG") {
    Msg m;
    m.hmsg = op == "HMSG";
    // MSG <subject> <sid> [reply] <size>; HMSG <subject> <sid> [reply] <hdr size> <total size>
    const std::size_t fixed = m.hmsg ? 5 : 4;
    if (words.size() != fixed && words.size() != fixed + 1) {
      errors_.push_back("bad line: " + line);
      buf_.erase(0, consumed);
      return true;
    }
    m.subject = words[1];
    m.sid = words[2];
    if (words.size() == fixed + 1) m.reply = words[3];
    const std::size_t total = std::stoul(words.back());
    const std::size_t hdr = m.hmsg ? std::stoul(words[words.size() - 2]) : 0;
    if (buf_.size() < consumed + total + 2) return false;  // the payload is not all here yet
    m.headers = buf_.substr(consumed, hdr);
    m.payload = buf_.substr(consumed + hdr, total - hdr);
    consumed += total + 2;
    msgs_.push_back(std::move(m));
  } else if (op == "PING") {
    send_raw("PONG\r\n");
  } else if (op == "PONG") {
    ++pongs_;
  } else if (op == "INFO") {
    if (info_.empty()) info_ = line.substr(5);
  } else if (op == "-ERR") {
    errors_.push_back(line);
  }
  buf_.erase(0, consumed);
  return true;
}

}  // namespace forest::testing

// Raw protocol scripts (cases.txt) run against forest-server and nats-server 2.9.10 in the same
// run: every expectation is checked against the reference too, so a wrong expectation fails.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "raw_client.hpp"
#include "server_process.hpp"

using namespace forest::testing;

namespace {

struct Step {
  enum Kind { send, expect, expect_eof, sleep } kind;
  char conn = 'a';
  std::string bytes;
  int ms = 0;
};

struct Case {
  std::string name;
  std::vector<std::string> config;
  std::vector<Step> steps;
};

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    switch (c) {
      case 'r': out.push_back('\r'); break;
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case '\\': out.push_back('\\'); break;
      case 'x': out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16))); i += 2; break;
      default: out.push_back('\\'); out.push_back(c);
    }
  }
  return out;
}

std::vector<Case> load_cases() {
  const char* dir = std::getenv("FOREST_TEST_DATA");
  const std::string path = std::string(dir != nullptr ? dir : "tests/data") + "/../proto/cases.txt";
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("=== ", 0) == 0) {
      cases.push_back(Case{line.substr(4), {}, {}});
      continue;
    }
    REQUIRE(!cases.empty());
    Case& c = cases.back();
    if (line.rfind("config: ", 0) == 0) {
      c.config.push_back(line.substr(8));
    } else if (line.rfind("sleep: ", 0) == 0) {
      c.steps.push_back(Step{Step::sleep, 'a', "", std::stoi(line.substr(7))});
    } else if (line.size() >= 3 && (line[1] == '>' || line[1] == '<') && line[2] == ' ') {
      const std::string body = line.substr(3);
      if (line[1] == '>') {
        c.steps.push_back(Step{Step::send, line[0], unescape(body), 0});
      } else if (body == "<EOF>") {
        c.steps.push_back(Step{Step::expect_eof, line[0], "", 0});
      } else {
        c.steps.push_back(Step{Step::expect, line[0], unescape(body), 0});
      }
    } else {
      FAIL("cannot read line of " << path << ": " << line);
    }
  }
  return cases;
}

std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

// Runs one case against a server; returns "" on success, else what went wrong.
std::string run_case(const Case& c, const std::string& binary, const std::string& tag) {
  std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1"};
  std::string conf_path;
  if (!c.config.empty()) {
    conf_path = (std::filesystem::temp_directory_path() /
                 ("forest-proto-" + std::to_string(::getpid()) + "-" + tag + ".conf")).string();
    std::ofstream conf(conf_path);
    for (const auto& l : c.config) conf << l << "\n";
    args.push_back("-c");
    args.push_back(conf_path);
  }
  auto server = ServerProcess::start(binary, args);
  std::map<char, std::unique_ptr<RawClient>> conns;
  auto conn = [&](char label) -> RawClient& {
    auto& slot = conns[label];
    if (!slot) {
      slot = std::make_unique<RawClient>("127.0.0.1", server->client_port());
      const std::string info = slot->read_line(std::chrono::seconds(3));
      if (info.rfind("INFO ", 0) != 0) throw std::runtime_error("no INFO, got: " + printable(info));
    }
    return *slot;
  };
  std::string failure;
  try {
    for (const Step& s : c.steps) {
      if (s.kind == Step::sleep) {
        std::this_thread::sleep_for(std::chrono::milliseconds(s.ms));
        continue;
      }
      RawClient& cl = conn(s.conn);
      if (s.kind == Step::send) {
        cl.send(s.bytes);
      } else if (s.kind == Step::expect) {
        const std::string got = cl.read_exactly(s.bytes.size(), std::chrono::seconds(5));
        if (got != s.bytes) {
          failure = std::string("connection ") + s.conn + ": expected [" + printable(s.bytes) + "] got [" +
                    printable(got) + "]";
          break;
        }
      } else {
        const std::string rest = cl.read_until_closed(std::chrono::seconds(5));
        if (!rest.empty() || !cl.peer_closed()) {
          failure = std::string("connection ") + s.conn + ": expected the server to close, got [" +
                    printable(rest) + "]" + (cl.peer_closed() ? "" : " and no close");
          break;
        }
      }
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  conns.clear();
  // A clean exit matters too: under sanitizers a leak or error shows up as a non-zero status.
  const int status = server->stop();
  if (tag == "forest" && failure.empty() && status != 0) failure = "server exited with status " + std::to_string(status) + ":\n" + server->log();
  if (!conf_path.empty()) std::filesystem::remove(conf_path);
  return failure;
}

}  // namespace

TEST_CASE("raw protocol scripts: forest-server and nats-server give the expected bytes", "[proto]") {
  const auto cases = load_cases();
  REQUIRE(cases.size() >= 40);
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      // Both servers in the same run; the reference validates the expectation itself.
      std::string ours, theirs;
      std::thread reference([&] { theirs = run_case(c, ServerProcess::nats_binary(), "nats"); });
      ours = run_case(c, ServerProcess::forest_binary(), "forest");
      reference.join();
      INFO("case: " << c.name);
      CHECK(theirs == "");
      CHECK(ours == "");
    }
  }
}

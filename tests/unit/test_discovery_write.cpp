// Writing the registry: upsert and remove under the Go app's lock, atomic replacement in the
// Go app's format, other forests and optional fields preserved, a malformed file never
// overwritten, a stale lock taken by force, and two concurrent writer processes losing
// nothing. Then the `forest-server registry` command on top of it.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "discovery/registry_cli.hpp"
#include "discovery/registry_lock.hpp"
#include "discovery/registry_update.hpp"
#include "test_discovery_support.hpp"

using namespace forest::discovery;
using discovery_test::data_dir;
using discovery_test::read_text;
using discovery_test::TempDir;
using discovery_test::wait_until;
using discovery_test::write_text;
namespace fs = std::filesystem;

namespace {

RegistryNode make_node(const std::string& forest, const std::string& id, const std::string& ip) {
  return RegistryNode{id, ip, "", "", forest, {}};
}

Registry load(const std::string& path) {
  auto r = load_registry(path);
  INFO((r ? std::string() : r.error().to_string()));
  REQUIRE(r);
  return *r;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// A lock schedule that gives up waiting quickly, for tests of the forced path.
UpdateOptions impatient() {
  UpdateOptions o;
  o.lock.attempts = 3;
  o.lock.first_backoff = std::chrono::milliseconds(1);
  o.malformed_retries = 0;
  return o;
}

}  // namespace

TEST_CASE("registry write: upsert creates, updates by id, leaves equal entries alone", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  auto a = upsert_node(path, make_node("forest-1", "node-1", "10.0.0.1"));
  REQUIRE(a);
  CHECK(a->outcome == UpdateOutcome::added);
  CHECK_FALSE(a->lock_forced);
  CHECK(read_text(path) ==
        "{\n  \"nodes\": {\n    \"forest-1\": [\n      {\n        \"id\": \"node-1\",\n        \"ip\": \"10.0.0.1\",\n"
        "        \"forest_id\": \"forest-1\"\n      }\n    ]\n  }\n}");

  RegistryNode moved = make_node("forest-1", "node-1", "10.0.0.9");
  moved.ipv6 = "2001:db8::9";
  auto u = upsert_node(path, moved);
  REQUIRE(u);
  CHECK(u->outcome == UpdateOutcome::updated);
  const Registry reg = load(path);
  REQUIRE(reg.nodes_of("forest-1").size() == 1);
  CHECK(reg.nodes_of("forest-1")[0] == moved);

  auto same = upsert_node(path, moved);
  REQUIRE(same);
  CHECK(same->outcome == UpdateOutcome::unchanged);
  // No lock file, no temporary file left behind.
  CHECK(names_in(dir.path()) == std::set<std::string>{"registry.json"});
}

TEST_CASE("registry write: other forests, optional fields and unknown keys are preserved", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  fs::copy_file(data_dir() + "/registry/good/go-written.json", path);
  fs::copy_file(data_dir() + "/registry/good/unknown-keys.json", dir.file("unknown.json"));
  const Registry before = load(path);

  REQUIRE(upsert_node(path, make_node("forest-9", "n-1", "10.9.0.1")));
  Registry after = load(path);
  CHECK(after.nodes_of("forest-123") == before.nodes_of("forest-123"));
  CHECK(after.nodes_of("forest-123").at(0).ipv4 == "203.0.113.10");
  CHECK(after.nodes_of("zeta <x>").size() == 1);
  CHECK(after.nodes_of("forest-9").size() == 1);

  // Taking it out again gives back the Go app's bytes exactly.
  REQUIRE(remove_node(path, "forest-9", "n-1"));
  CHECK(read_text(path) == read_text(data_dir() + "/registry/good/go-written.json"));

  // An update of a node keeps the unknown fields its entry had.
  const std::string unknown = dir.file("unknown.json");
  REQUIRE(upsert_node(unknown, make_node("forest-123", "node-1", "10.0.0.2")));
  const Registry u = load(unknown);
  CHECK(u.nodes_of("forest-123").at(0).ip == "10.0.0.2");
  CHECK(u.nodes_of("forest-123").at(0).extra.size() == 3);
  CHECK(u.extra.size() == 2);
}

TEST_CASE("registry write: remove", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  REQUIRE(upsert_node(path, make_node("f", "a", "10.0.0.1")));
  REQUIRE(upsert_node(path, make_node("f", "b", "10.0.0.2")));
  REQUIRE(upsert_node(path, make_node("g", "a", "10.0.1.1")));
  auto r = remove_node(path, "f", "a");
  REQUIRE(r);
  CHECK(r->outcome == UpdateOutcome::removed);
  const Registry reg = load(path);
  REQUIRE(reg.nodes_of("f").size() == 1);
  CHECK(reg.nodes_of("f")[0].id == "b");
  CHECK(reg.nodes_of("g").size() == 1);  // same id in another forest: untouched
  auto again = remove_node(path, "f", "a");
  REQUIRE(again);
  CHECK(again->outcome == UpdateOutcome::not_found);
  auto nowhere = remove_node(path, "no-forest", "a");
  REQUIRE(nowhere);
  CHECK(nowhere->outcome == UpdateOutcome::not_found);
}

TEST_CASE("registry write: the file is 0644 whatever the umask", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  const mode_t old = ::umask(077);
  auto r = upsert_node(path, make_node("f", "a", "10.0.0.1"));
  ::umask(old);
  REQUIRE(r);
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
}

TEST_CASE("registry write: a malformed registry is never overwritten", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  const std::string broken = "{\"nodes\": {\"f\": [{\"id\": \"a\", \"ip\": \"10.0.0.1\"},\n";
  write_text(path, broken);
  auto r = upsert_node(path, make_node("f", "b", "10.0.0.2"), impatient());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::syntax);
  CHECK(r.error().file == path);
  CHECK(r.error().line == 2);
  CHECK(r.error().message.find("left unchanged") != std::string::npos);
  CHECK(read_text(path) == broken);
  CHECK_FALSE(fs::exists(lock_path_for(path)));  // the lock was released on the error path
}

TEST_CASE("registry write: bad arguments", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  auto no_id = upsert_node(path, make_node("f", "", "10.0.0.1"));
  REQUIRE_FALSE(no_id);
  CHECK(no_id.error().code == Errc::usage);
  auto no_forest = upsert_node(path, make_node("", "a", "10.0.0.1"));
  REQUIRE_FALSE(no_forest);
  auto no_dir = upsert_node(dir.file("missing-dir/registry.json"), make_node("f", "a", "10.0.0.1"));
  REQUIRE_FALSE(no_dir);
  CHECK(no_dir.error().code == Errc::io);
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("registry lock: a stale lock is taken by force after the deadline", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  // A writer that crashed: its lock file stays (the Go app's are empty; ours say who).
  write_text(lock_path_for(path), "4242@crashed-host 1-0\n");
  auto r = upsert_node(path, make_node("f", "a", "10.0.0.1"), impatient());
  REQUIRE(r);
  CHECK(r->lock_forced);
  CHECK(r->previous_lock_holder == "4242@crashed-host 1-0");
  CHECK(load(path).nodes_of("f").size() == 1);
  CHECK_FALSE(fs::exists(lock_path_for(path)));
}

TEST_CASE("registry lock: after a takeover, the old holder does not remove the new one's lock", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  auto first = RegistryLock::acquire(path);
  REQUIRE(first);
  CHECK_FALSE(first->forced());
  const LockOptions quick{2, std::chrono::milliseconds(1), std::chrono::milliseconds(1)};
  auto second = RegistryLock::acquire(path, quick);
  REQUIRE(second);
  CHECK(second->forced());
  first->release();  // the slow first holder finishes
  CHECK(fs::exists(lock_path_for(path)));  // still the second's
  second->release();
  CHECK_FALSE(fs::exists(lock_path_for(path)));
}

TEST_CASE("registry write: two concurrent writer processes, 50 nodes each, lose nothing", "[discovery][write]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  constexpr int kPerWriter = 50;
  std::vector<pid_t> children;
  for (const char* who : {"a", "b"}) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Child: no Catch2 here; the exit code says what happened.
      int code = 0;
      for (int i = 0; i < kPerWriter && code == 0; ++i) {
        const std::string id = std::string("writer-") + who + "-" + std::to_string(i);
        auto r = upsert_node(path, make_node("forest-1", id, "10.0." + std::to_string(who[0] - 'a') + "." +
                                                                 std::to_string(i + 1)));
        if (!r) code = 1;
        else if (r->lock_forced) code = 2;  // two healthy writers must never need force
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = -1;
    const bool ended = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(120));
    if (!ended) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    REQUIRE(ended);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  const Registry reg = load(path);
  const auto& nodes = reg.nodes_of("forest-1");
  std::set<std::string> ids;
  for (const auto& n : nodes) ids.insert(n.id);
  CHECK(nodes.size() == 2 * kPerWriter);
  CHECK(ids.size() == 2 * kPerWriter);
  CHECK(ids.contains("writer-a-0"));
  CHECK(ids.contains("writer-b-49"));
  CHECK(names_in(dir.path()) == std::set<std::string>{"registry.json"});
}

TEST_CASE("registry command: add, list, remove", "[discovery][cli]") {
  TempDir dir;
  const std::string reg = dir.file("registry.json");
  const std::string info = dir.file("node-info.json");
  write_text(info, R"({"forest_id": "forest-7", "node_id": "node-1"})");
  auto run = [](std::vector<std::string> args, std::string* out_text = nullptr, std::string* err_text = nullptr) {
    std::ostringstream out, err;
    const int code = run_registry_command(args, out, err);
    if (out_text) *out_text = out.str();
    if (err_text) *err_text = err.str();
    return code;
  };
  std::string out, err;
  CHECK(run({"add", "--id", "node-1", "--ip", "2001:DB8::1", "--registry", reg, "--node-info", info}, &out) == 0);
  CHECK(out.find("added node node-1 (2001:db8::1) in forest forest-7") != std::string::npos);
  CHECK(run({"add", "--id=node-2", "--ipv4=192.0.2.2", "--forest=forest-8", "--registry=" + reg}) == 0);
  CHECK(run({"add", "--id", "node-3", "--ip", "192.0.2.3", "--ipv6", "2001:db8::3", "--registry", reg, "--node-info",
             info}) == 0);

  const Registry r = load(reg);
  CHECK(r.nodes_of("forest-7").size() == 2);
  CHECK(r.nodes_of("forest-7").at(1).ipv6 == "2001:db8::3");
  CHECK(r.nodes_of("forest-8").at(0).ip == "192.0.2.2");  // ip mirrors the only address given
  CHECK(r.nodes_of("forest-8").at(0).ipv4 == "192.0.2.2");

  CHECK(run({"list", "--registry", reg}, &out) == 0);
  CHECK(out == "FOREST\tID\tIP\tIPV6\tIPV4\n"
               "forest-7\tnode-1\t2001:db8::1\t-\t-\n"
               "forest-7\tnode-3\t192.0.2.3\t2001:db8::3\t-\n"
               "forest-8\tnode-2\t192.0.2.2\t-\t192.0.2.2\n");
  CHECK(run({"list", "--registry", reg, "--forest", "forest-8"}, &out) == 0);
  CHECK(out == "FOREST\tID\tIP\tIPV6\tIPV4\nforest-8\tnode-2\t192.0.2.2\t-\t192.0.2.2\n");

  CHECK(run({"remove", "--id", "node-1", "--registry", reg, "--node-info", info}, &out) == 0);
  CHECK(out.find("removed node node-1 from forest forest-7") != std::string::npos);
  CHECK(run({"remove", "--id", "node-1", "--registry", reg, "--node-info", info}, &out) == 0);
  CHECK(out.find("nothing to do") != std::string::npos);
  CHECK(load(reg).nodes_of("forest-7").size() == 1);
}

TEST_CASE("registry command: usage errors and broken files", "[discovery][cli]") {
  TempDir dir;
  const std::string reg = dir.file("registry.json");
  auto code = [](std::vector<std::string> args, std::string* err_text = nullptr) {
    std::ostringstream out, err;
    const int c = run_registry_command(args, out, err);
    if (err_text) *err_text = err.str();
    return c;
  };
  std::string err;
  CHECK(code({}) == 2);
  CHECK(code({"frobnicate"}) == 2);
  CHECK(code({"help"}) == 0);
  CHECK(code({"add", "--help"}) == 0);
  CHECK(code({"add", "--ip", "10.0.0.1", "--forest", "f", "--registry", reg}, &err) == 2);
  CHECK(err.find("--id is required") != std::string::npos);
  CHECK(code({"add", "--id", "a", "--forest", "f", "--registry", reg}, &err) == 2);
  CHECK(code({"add", "--id", "a", "--ip", "10.0.0.1:6222", "--forest", "f", "--registry", reg}, &err) == 2);
  CHECK(err.find("is not an IP address") != std::string::npos);
  CHECK(code({"add", "--id", "a", "--ipv6", "10.0.0.1", "--forest", "f", "--registry", reg}, &err) == 2);
  CHECK(err.find("is not an IPv6 address") != std::string::npos);
  CHECK(code({"add", "--id", "a", "--ip", "10.0.0.1", "--colour", "red", "--registry", reg}, &err) == 2);
  CHECK(err.find("unknown flag --colour") != std::string::npos);
  CHECK(code({"add", "--id"}, &err) == 2);
  CHECK(code({"list", "stray"}, &err) == 2);
  // No --forest and no node-info: cannot guess the forest.
  CHECK(code({"add", "--id", "a", "--ip", "10.0.0.1", "--registry", reg, "--node-info", dir.file("none.json")}, &err) ==
        2);
  CHECK(err.find("no --forest given") != std::string::npos);
  CHECK_FALSE(fs::exists(reg));

  write_text(reg, "{\"nodes\": {\"f\": [}}");
  CHECK(code({"list", "--registry", reg}, &err) == 1);
  CHECK(err.find(reg + ":1:18:") != std::string::npos);
}

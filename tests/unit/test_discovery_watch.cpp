// RegistryWatcher: a node added to the registry is reported, a removed one disappears, a
// half-written file keeps the last good list (reported once) until it is whole again, and the
// watcher stops promptly. Short poll interval; every wait is bounded.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <mutex>

#include "discovery/file_io.hpp"
#include "discovery/registry_update.hpp"
#include "discovery/registry_watcher.hpp"
#include "test_discovery_support.hpp"

using namespace forest::discovery;
using discovery_test::TempDir;
using discovery_test::wait_until;
using namespace std::chrono_literals;

namespace {

using Urls = std::vector<std::string>;

// What the callbacks saw, filled on the watcher's thread.
struct Recorder {
  mutable std::mutex mu;
  std::vector<Urls> lists;
  std::vector<Error> errors;
  int recoveries = 0;

  WatcherCallbacks callbacks() {
    return WatcherCallbacks{
        [this](const std::vector<Peer>& p) {
          std::lock_guard lk(mu);
          lists.push_back(peer_urls(p));
        },
        [this](const Error& e) {
          std::lock_guard lk(mu);
          errors.push_back(e);
        },
        [this] {
          std::lock_guard lk(mu);
          ++recoveries;
        }};
  }
  std::size_t list_count() const {
    std::lock_guard lk(mu);
    return lists.size();
  }
  Urls last() const {
    std::lock_guard lk(mu);
    return lists.empty() ? Urls{} : lists.back();
  }
  std::size_t error_count() const {
    std::lock_guard lk(mu);
    return errors.size();
  }
};

std::string registry_text(const std::vector<std::pair<std::string, std::string>>& nodes) {
  Registry reg;
  auto& list = reg.forests["forest-1"];
  for (const auto& [id, ip] : nodes) list.push_back(RegistryNode{id, ip, "", "", "forest-1", {}});
  reg.forests["other-forest"].push_back(RegistryNode{"x-1", "10.9.9.9", "", "", "other-forest", {}});
  return format_registry(reg);
}

// Atomic, so the watcher sees exactly the states the test means (a half-written file too,
// which in real life comes from the Go app's in-place rewrite), never one in between.
void put(const std::string& path, const std::string& text) { REQUIRE(write_file_atomically(path, text, 0644)); }

void write_registry(const std::string& path, const std::vector<std::pair<std::string, std::string>>& nodes) {
  put(path, registry_text(nodes));
}

const NodeInfo kSelf{"forest-1", "node-1"};
const WatcherOptions kFast{10ms, PeerOptions{}};

AddressSource fixed(LocalAddresses a) {
  return [a] { return a; };
}

// Waits for at least `n` more completed polls.
bool more_polls(const RegistryWatcher& w, std::uint64_t n) {
  const auto start = w.polls();
  return wait_until([&] { return w.polls() >= start + n; });
}

}  // namespace

TEST_CASE("watcher: a node added later is reported, a removed one disappears", "[discovery][watch]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  write_registry(path, {{"node-1", "10.0.0.1"}});
  Recorder rec;
  auto w = RegistryWatcher::start(path, kSelf, kFast, rec.callbacks(), fixed({}));
  REQUIRE(w);
  REQUIRE(more_polls(**w, 2));
  CHECK(rec.list_count() == 0);  // alone, as the initial (empty) list said
  CHECK((*w)->peers().empty());

  write_registry(path, {{"node-1", "10.0.0.1"}, {"node-2", "10.0.0.2"}});
  REQUIRE(wait_until([&] { return rec.list_count() == 1; }));
  CHECK(rec.last() == Urls{"nats://10.0.0.2:6222"});

  write_registry(path, {{"node-1", "10.0.0.1"}, {"node-2", "10.0.0.2"}, {"node-3", "10.0.0.3"}});
  REQUIRE(wait_until([&] { return rec.list_count() == 2; }));
  CHECK(rec.last() == Urls{"nats://10.0.0.2:6222", "nats://10.0.0.3:6222"});

  write_registry(path, {{"node-1", "10.0.0.1"}, {"node-3", "10.0.0.3"}});
  REQUIRE(wait_until([&] { return rec.list_count() == 3; }));
  CHECK(rec.last() == Urls{"nats://10.0.0.3:6222"});
  CHECK(peer_urls((*w)->peers()) == Urls{"nats://10.0.0.3:6222"});

  // A rewrite that changes nothing for this node (another forest, formatting) is not reported.
  put(path, "{\"nodes\": {\"forest-1\": [{\"id\": \"node-3\", \"ip\": \"10.0.0.3\"}]}}");
  REQUIRE(more_polls(**w, 3));
  CHECK(rec.list_count() == 3);
  CHECK(rec.error_count() == 0);
}

TEST_CASE("watcher: registry changes made through upsert_node and remove_node", "[discovery][watch]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  Recorder rec;
  auto w = RegistryWatcher::start(path, kSelf, kFast, rec.callbacks(), fixed({}));
  REQUIRE(w);
  REQUIRE(upsert_node(path, RegistryNode{"node-2", "2001:db8::2", "", "", "forest-1", {}}));
  REQUIRE(wait_until([&] { return rec.list_count() == 1; }));
  CHECK(rec.last() == Urls{"nats://[2001:db8::2]:6222"});
  REQUIRE(remove_node(path, "forest-1", "node-2"));
  REQUIRE(wait_until([&] { return rec.list_count() == 2; }));
  CHECK(rec.last().empty());
}

TEST_CASE("watcher: a half-written file keeps the last good list, is reported once, then recovers",
          "[discovery][watch]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  write_registry(path, {{"node-1", "10.0.0.1"}, {"node-2", "10.0.0.2"}});
  Recorder rec;
  auto w = RegistryWatcher::start(path, kSelf, kFast, rec.callbacks(), fixed({}));
  REQUIRE(w);
  REQUIRE(wait_until([&] { return rec.list_count() == 1; }));

  // What a reader sees while the Go app rewrites the file in place: the first half.
  const std::string whole = registry_text({{"node-1", "10.0.0.1"}, {"node-2", "10.0.0.2"}, {"node-4", "10.0.0.4"}});
  put(path, whole.substr(0, whole.size() / 2));
  REQUIRE(wait_until([&] { return rec.error_count() == 1; }));
  {
    std::lock_guard lk(rec.mu);
    CHECK(rec.errors[0].file == path);
    CHECK(rec.errors[0].code == Errc::syntax);
    CHECK(rec.errors[0].line > 1);
  }
  REQUIRE(more_polls(**w, 5));
  CHECK(rec.error_count() == 1);  // once, not once per poll
  CHECK(peer_urls((*w)->peers()) == Urls{"nats://10.0.0.2:6222"});
  CHECK(rec.list_count() == 1);

  // A different broken content is a new problem, reported again.
  put(path, "{\"nodes\": []}");
  REQUIRE(wait_until([&] { return rec.error_count() == 2; }));
  CHECK(peer_urls((*w)->peers()) == Urls{"nats://10.0.0.2:6222"});

  put(path, whole);
  REQUIRE(wait_until([&] { return rec.list_count() == 2; }));
  CHECK(rec.last() == Urls{"nats://10.0.0.2:6222", "nats://10.0.0.4:6222"});
  std::lock_guard lk(rec.mu);
  CHECK(rec.recoveries == 1);
}

TEST_CASE("watcher: the registry disappearing means an empty forest", "[discovery][watch]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  write_registry(path, {{"node-2", "10.0.0.2"}});
  Recorder rec;
  auto w = RegistryWatcher::start(path, kSelf, kFast, rec.callbacks(), fixed({}),
                                  {Peer{"node-2", "nats://10.0.0.2:6222"}});
  REQUIRE(w);
  REQUIRE(more_polls(**w, 2));
  CHECK(rec.list_count() == 0);  // the initial list was already right
  std::filesystem::remove(path);
  REQUIRE(wait_until([&] { return rec.list_count() == 1; }));
  CHECK(rec.last().empty());
}

TEST_CASE("watcher: self recognised by a local address from the address source", "[discovery][watch]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  // This node is listed under an old id with one of its addresses.
  write_registry(path, {{"old-name", "2001:db8::1"}, {"node-2", "10.0.0.2"}});
  Recorder rec;
  auto w = RegistryWatcher::start(path, kSelf, kFast, rec.callbacks(), fixed(LocalAddresses{"2001:db8:0::1"}));
  REQUIRE(w);
  REQUIRE(wait_until([&] { return rec.list_count() == 1; }));
  CHECK(rec.last() == Urls{"nats://10.0.0.2:6222"});
}

TEST_CASE("watcher: stops promptly with a long interval", "[discovery][watch]") {
  TempDir dir;
  Recorder rec;
  auto w = RegistryWatcher::start(dir.file("registry.json"), kSelf, WatcherOptions{std::chrono::hours(1), {}},
                                  rec.callbacks(), fixed({}));
  REQUIRE(w);
  REQUIRE(wait_until([&] { return (*w)->polls() >= 1; }));
  // Would hang for an hour (and hit the test timeout) if the wait were not interruptible.
  (*w)->stop();
  (*w)->stop();  // idempotent
  w->reset();
  CHECK(rec.list_count() == 0);
}

TEST_CASE("watcher: a callback may stop the watcher", "[discovery][watch]") {
  TempDir dir;
  const std::string path = dir.file("registry.json");
  write_registry(path, {{"node-2", "10.0.0.2"}});
  std::atomic<int> calls{0};
  std::mutex mu;  // publishes `watcher` to the callback before it can run
  RegistryWatcher* watcher = nullptr;
  WatcherCallbacks cb;
  cb.on_peers = [&](const std::vector<Peer>&) {
    ++calls;
    std::lock_guard lk(mu);
    watcher->stop();  // on the watcher's own thread: must not deadlock
  };
  std::unique_ptr<RegistryWatcher> owned;
  {
    std::lock_guard lk(mu);
    auto s = RegistryWatcher::start(path, kSelf, kFast, cb, fixed({}));
    REQUIRE(s);
    owned = std::move(*s);
    watcher = owned.get();
  }
  REQUIRE(wait_until([&] { return calls.load() == 1; }));
  REQUIRE(wait_until([&] { return owned->polls() == 1; }));
  owned.reset();  // joins the thread the callback asked to stop
  CHECK(calls.load() == 1);
}

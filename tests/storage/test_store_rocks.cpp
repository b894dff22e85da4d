// RocksDB only: flushes and compactions under tiny buffers, reopen, crashes (a child that
// _exit()s or is SIGKILLed without closing), locking, erase, and directories that are not
// usable stores (garbage, foreign data, unknown format, corruption) failing clearly.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "storage/keys.hpp"
#include "storage/records.hpp"
#include "storage/rocks_kv.hpp"
#include "store_fixture.hpp"

using namespace storage_test;

namespace {

namespace fs = std::filesystem;

std::expected<std::unique_ptr<StreamStore>, Error> open_at(const std::string& path,
                                                           SyncPolicy sync = SyncPolicy::interval) {
  return open_rocks_store(tiny_rocks_options(path, sync));
}

// A child running storage-crash-writer with its stdout on a pipe.
class Writer {
 public:
  Writer(const std::string& dir, const std::string& mode, long batches, const std::string& sync) {
    const char* exe = std::getenv("STORAGE_CRASH_WRITER");
    REQUIRE(exe != nullptr);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::string b = std::to_string(batches);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execl(exe, exe, dir.c_str(), mode.c_str(), b.c_str(), sync.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Writer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)wait();
    }
    if (fd_ >= 0) ::close(fd_);
  }

  // The next line, or nullopt at EOF; fails the test after 30 s without one.
  std::optional<std::string> line() {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      pollfd p{fd_, POLLIN, 0};
      int n = ::poll(&p, 1, 30'000);
      REQUIRE(n > 0);
      char tmp[4096];
      ssize_t got = ::read(fd_, tmp, sizeof tmp);
      if (got <= 0) return std::nullopt;
      buf_.append(tmp, static_cast<std::size_t>(got));
    }
  }
  void kill9() { REQUIRE(::kill(pid_, SIGKILL) == 0); }
  // Exit status (or 128 + signal).
  int wait() {
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
};

// Every batch the writer reported is in the store, whole; the store is consistent.
void check_written(StreamStore& s, long acknowledged) {
  auto st = state(s, "S");
  REQUIRE(st.msgs >= static_cast<std::uint64_t>(3 * acknowledged));
  for (long i = 0; i < acknowledged; ++i) {
    for (int j = 1; j <= 3; ++j) {
      auto m = s.load("S", StreamSeq(3 * static_cast<std::uint64_t>(i) + static_cast<std::uint64_t>(j)));
      REQUIRE(m.has_value());
      REQUIRE(m->data.starts_with(cat("b", num(static_cast<std::uint64_t>(i)), "-", num(static_cast<std::uint64_t>(j)))));
      REQUIRE(m->subject == cat("foo.", num(static_cast<std::uint64_t>(i % 5))));
    }
  }
  auto c = cstate(s, "S", "C");
  REQUIRE(c.delivered.consumer.value >= static_cast<std::uint64_t>(acknowledged));
  for (long i = 0; i < acknowledged; ++i) {
    REQUIRE(c.pending.contains(StreamSeq(3 * static_cast<std::uint64_t>(i) + 1)));
  }
  check_consistent(s, "S");
}

bool file_contains(const fs::path& p, const std::string& needle) {
  std::ifstream in(p, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return content.find(needle) != std::string::npos;
}

bool any_sst_contains(const std::string& dir, const std::string& needle) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".sst" && file_contains(e.path(), needle)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("rocks: flushes and compactions happen, reopen keeps everything", "[storage][rocks]") {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  std::string before;
  {
    auto s = open_at(path);
    REQUIRE(s.has_value());
    StreamStore& st = **s;
    auto cfg = stream_config("S", {">"});
    cfg.max_msgs_per_subject = 50;
    ok(st, create_op(cfg));
    ok(st, create_op(stream_config("T", {"t.>"})));
    ok(st, consumer_create_op("S", consumer_config("C")));
    std::vector<Op> batch;
    for (int i = 0; i < 6000; ++i) {
      batch.push_back(store_op("S", cat("s.", num(static_cast<std::uint64_t>(i % 97))), std::string(300, static_cast<char>('a' + i % 26)),
                               t0 + i));
      if (batch.size() == 100) {
        auto r = st.apply_batch(batch);
        REQUIRE(r.has_value());
        batch.clear();
      }
    }
    for (int i = 1; i <= 40; ++i) ok(st, delivered_op("S", "C", static_cast<std::uint64_t>(i), 5000 + i));
    ok(st, ack_op("S", "C", 3, 5003));
    ok(st, store_op("T", "t.x", "tee"));
    // Tiny buffers: the data went through memtable flushes into table files and compactions.
    CHECK(st.int_property("rocksdb.total-sst-files-size").value_or(0) > 0);
    bool compacted = false;
    for (int tries = 0; tries < 100 && !compacted; ++tries) {
      compacted = st.int_property("rocksdb.num-files-at-level1").value_or(0) > 0;
      if (!compacted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(compacted);
    CHECK(!st.int_property("rocksdb.no-such-property").has_value());
    CHECK(state(st, "S").msgs == 97 * 50);
    check_consistent(st, "S");
    before = dump(st);
    REQUIRE(st.close().has_value());
    CHECK(st.apply(store_op("S", "s.1", "x")).error().code == Errc::closed);
    CHECK(st.stream_state("S").error().code == Errc::closed);
  }
  auto s = open_at(path);
  REQUIRE(s.has_value());
  CHECK(dump(**s) == before);
  CHECK(cstate(**s, "S", "C").pending.size() == 39);
  CHECK(ok(**s, store_op("T", "t.y", "x")).seq.value == 2);
  REQUIRE((*s)->sync().has_value());
}

TEST_CASE("rocks: a crash keeps every op apply_batch returned for", "[storage][rocks]") {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  SECTION("the writer _exit()s without closing") {
    const std::string sync = GENERATE(std::string("interval"), std::string("always"));
    Writer w(path, "exit", 150, sync);
    long seen = 0;
    while (auto l = w.line()) {
      REQUIRE(*l == std::to_string(seen));
      ++seen;
    }
    CHECK(w.wait() == 0);
    CHECK(seen == 150);
    auto s = open_at(path);
    REQUIRE(s.has_value());
    check_written(**s, seen);
    CHECK(state(**s, "S").msgs == 450);
  }
  SECTION("the writer is killed with SIGKILL in the middle of its work") {
    long acknowledged = 0;
    for (int round = 0; round < 3; ++round) {
      // Each round appends to the same store: recovery after one crash is the start of the next.
      Writer w(path, "kill", 1'000'000, "interval");
      long seen = 0;
      while (seen < 200) {
        auto l = w.line();
        REQUIRE(l.has_value());
        ++seen;
      }
      w.kill9();
      CHECK(w.wait() == 128 + SIGKILL);
      acknowledged = seen;
      auto s = open_at(path);
      REQUIRE(s.has_value());
      if (round == 0) {
        check_written(**s, acknowledged);
      } else {
        check_consistent(**s, "S");
        CHECK(state(**s, "S").msgs >= static_cast<std::uint64_t>(3 * 200 * (round + 1)));
      }
      REQUIRE((*s)->close().has_value());
    }
  }
}

TEST_CASE("rocks: a store in use is Errc::locked", "[storage][rocks]") {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  SECTION("by this process") {
    auto a = open_at(path);
    REQUIRE(a.has_value());
    auto b = open_at(path);
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().code == Errc::locked);
    CHECK(b.error().text.find(path) != std::string::npos);
    REQUIRE((*a)->close().has_value());
    auto c = open_at(path);
    CHECK(c.has_value());
  }
  SECTION("by another process") {
    Writer w(path, "hold", 0, "interval");
    auto l = w.line();
    REQUIRE(l == std::string("ready"));
    auto b = open_at(path);
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().code == Errc::locked);
    w.kill9();
    (void)w.wait();
    auto c = open_at(path);
    CHECK(c.has_value());
  }
}

TEST_CASE("rocks: erase scrubs the bytes from the table files", "[storage][rocks]") {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  const std::string secret = "very-secret-payload-0123456789";
  {
    auto s = open_at(path);
    REQUIRE(s.has_value());
    ok(**s, create_op(stream_config("S")));
    ok(**s, store_op("S", "foo.a", secret));
    ok(**s, store_op("S", "foo.a", "other"));
  }
  // Reopening replays the WAL into a table file.
  auto s = open_at(path);
  REQUIRE(s.has_value());
  REQUIRE(any_sst_contains(path, secret));
  ok(**s, delete_op("S", 1, true));
  CHECK(!any_sst_contains(path, secret));
  CHECK((*s)->load("S", StreamSeq(1)).error().code == Errc::message_not_found);
  CHECK((*s)->load("S", StreamSeq(2))->data == "other");
}

TEST_CASE("rocks: directories that are not usable stores fail clearly", "[storage][rocks]") {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  auto expect_open_failed = [&](const std::string& p) {
    auto s = open_at(p);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().code == Errc::open_failed);
    CHECK(s.error().text.find(p) != std::string::npos);
    return s.error().text;
  };
  SECTION("a missing directory is created with its parents") {
    auto s = open_at(dir.path() + "/a/b/c");
    REQUIRE(s.has_value());
    CHECK((*s)->stream_names().empty());
  }
  SECTION("a directory with other files") {
    fs::create_directories(path);
    std::ofstream(path + "/notes.txt") << "hello";
    auto text = expect_open_failed(path);
    CHECK(text.find("not a store") != std::string::npos);
    CHECK(fs::exists(path + "/notes.txt"));
  }
  SECTION("a file where the directory should be") {
    std::ofstream(path) << "x";
    expect_open_failed(path);
  }
  SECTION("garbage in CURRENT") {
    { REQUIRE(open_at(path).has_value()); }
    std::ofstream(path + "/CURRENT", std::ios::trunc) << "garbage\n";
    expect_open_failed(path);
  }
  SECTION("garbage table files") {
    {
      auto s = open_at(path);
      REQUIRE(s.has_value());
      ok(**s, create_op(stream_config("S")));
      for (int i = 0; i < 3000; ++i) ok(**s, store_op("S", "foo.a", std::string(200, 'z')));
    }
    int corrupted = 0;
    for (const auto& e : fs::directory_iterator(path)) {
      if (e.path().extension() != ".sst") continue;
      auto size = fs::file_size(e.path());
      std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << std::string(size, 'x');
      ++corrupted;
    }
    REQUIRE(corrupted > 0);
    // Either the open refuses, or the first read that meets the damage fails: never an
    // empty or silently shorter stream.
    auto s = open_at(path);
    if (s.has_value()) {
      bool failed = false;
      StreamSeq next(1);
      for (;;) {
        auto m = (*s)->load_next("S", "", next);
        if (!m) {
          failed = true;
          break;
        }
        if (!m->has_value()) break;
        next = (*m)->seq.next();
      }
      CHECK(failed);
    } else {
      CHECK((s.error().code == Errc::open_failed || s.error().code == Errc::corrupt));
    }
  }
  SECTION("a RocksDB with data but no format record (not ours)") {
    {
      auto kv = open_rocks_kv(tiny_rocks_options(path));
      REQUIRE(kv.has_value());
      auto b = (*kv)->batch();
      b->put(Family::messages, "some-key", "some-value");
      REQUIRE((*kv)->write(*b).has_value());
      REQUIRE((*kv)->close().has_value());
    }
    auto text = expect_open_failed(path);
    CHECK(text.find("not a stream store") != std::string::npos);
  }
  SECTION("an unknown store format version") {
    {
      auto kv = open_rocks_kv(tiny_rocks_options(path));
      REQUIRE(kv.has_value());
      auto b = (*kv)->batch();
      records::Global g;
      g.format_version = 99;
      b->put(Family::meta, keys::global(), records::encode(g));
      REQUIRE((*kv)->write(*b).has_value());
      REQUIRE((*kv)->close().has_value());
    }
    auto text = expect_open_failed(path);
    CHECK(text.find("format version 99") != std::string::npos);
  }
  SECTION("a stream record that does not decode") {
    {
      auto s = open_at(path);
      REQUIRE(s.has_value());
      ok(**s, create_op(stream_config("S")));
    }
    {
      auto kv = open_rocks_kv(tiny_rocks_options(path));
      REQUIRE(kv.has_value());
      auto b = (*kv)->batch();
      b->put(Family::meta, keys::stream_state(1), "\xff");
      REQUIRE((*kv)->write(*b).has_value());
      REQUIRE((*kv)->close().has_value());
    }
    auto text = expect_open_failed(path);
    CHECK(text.find("'S'") != std::string::npos);
  }
  SECTION("no permission") {
    if (::geteuid() == 0) {
      WARN("running as root: permissions do not apply, skipped");
      return;
    }
    fs::create_directories(path);
    fs::permissions(path, fs::perms::none);
    expect_open_failed(path);
    fs::permissions(path, fs::perms::owner_all);
  }
}

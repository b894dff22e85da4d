// Stream store append micro-benchmarks (issue 8): storing 128-byte messages on one stream,
// one op per apply_batch (a sync publish) and 64 per batch (what group commit gives a burst of
// concurrent publishers), on the memory store and on RocksDB with sync_interval (WAL written to
// the OS per batch) and with always (an fsync per batch). The RocksDB stores live in a temp
// dir removed afterwards. Run: build/bench/micro-benchmarks "[store]"
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "storage/stream_store.hpp"

using namespace forest::storage;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("forest-bench-store-" + std::to_string(::getpid()));
    fs::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

Op create_stream() {
  StreamConfig c;
  c.name = "BENCH";
  c.subjects = {"bench.>"};
  c.duplicate_window_ns = 0;
  return Op{"BENCH", StreamCreateOp{c, 1}};
}

Op store_op(uint64_t i) {
  StoreMsgOp m;
  m.subject = "bench.";
  m.subject += std::to_string(i % 16);
  m.data.assign(128, 'x');
  m.time_ns = static_cast<int64_t>(i) + 1;
  return Op{"BENCH", std::move(m)};
}

// Appends `batch` messages per apply_batch; the meter counts batches.
void run(Catch::Benchmark::Chronometer meter, StreamStore& store, std::size_t batch) {
  static uint64_t next = 0;
  std::vector<std::vector<Op>> batches(static_cast<std::size_t>(meter.runs()));
  for (auto& b : batches) {
    for (std::size_t k = 0; k < batch; ++k) b.push_back(store_op(next++));
  }
  meter.measure([&](int i) {
    auto r = store.apply_batch(batches[static_cast<std::size_t>(i)]);
    if (!r) FAIL(r.error().text);
    return r->size();
  });
}

std::unique_ptr<StreamStore> rocks(const TempDir& dir, SyncPolicy sync) {
  RocksOptions o;
  o.path = (dir.path / (sync == SyncPolicy::always ? "always" : "interval")).string();
  o.sync = sync;
  auto s = open_rocks_store(o);
  if (!s) FAIL(s.error().text);
  auto created = (*s)->apply(create_stream());
  if (!created) FAIL(created.error().text);
  return std::move(*s);
}

}  // namespace

TEST_CASE("store append", "[micro][store]") {
  TempDir dir;
  auto memory = open_memory_store();
  REQUIRE(memory->apply(create_stream()));
  auto interval = rocks(dir, SyncPolicy::interval);
  auto always = rocks(dir, SyncPolicy::always);

  BENCHMARK_ADVANCED("memory: 1 msg per batch")(Catch::Benchmark::Chronometer meter) { run(meter, *memory, 1); };
  BENCHMARK_ADVANCED("memory: 64 msgs per batch")(Catch::Benchmark::Chronometer meter) { run(meter, *memory, 64); };
  BENCHMARK_ADVANCED("rocksdb sync_interval: 1 msg per batch")(Catch::Benchmark::Chronometer meter) {
    run(meter, *interval, 1);
  };
  BENCHMARK_ADVANCED("rocksdb sync_interval: 64 msgs per batch")(Catch::Benchmark::Chronometer meter) {
    run(meter, *interval, 64);
  };
  BENCHMARK_ADVANCED("rocksdb always (fsync): 1 msg per batch")(Catch::Benchmark::Chronometer meter) {
    run(meter, *always, 1);
  };
  BENCHMARK_ADVANCED("rocksdb always (fsync): 64 msgs per batch")(Catch::Benchmark::Chronometer meter) {
    run(meter, *always, 64);
  };
}

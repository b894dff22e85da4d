// storage-crash-writer: a child process for the storage suite's crash tests. It opens a
// RocksDB store, applies batches and reports each batch on stdout only after apply_batch
// returned, so the parent knows which ops the store promised to keep. It never closes the
// store: it either _exit(0)s or waits to be killed.
//
//   storage-crash-writer <dir> exit|kill|hold <batches> interval|always
//
// Batch i stores three messages "b<i>-<j>" on foo.<i%5> (sequences 3i+1..3i+3 on a fresh
// store) and records the delivery of 3i+1 to consumer C as consumer sequence i+1.
// `hold` opens the store, prints "ready" and sleeps (for lock tests).

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/stream_store.hpp"

using namespace forest::storage;

namespace {

void say(const std::string& line) {
  std::string l = line + "\n";
  // write(2), not stdio: nothing may sit in a buffer when the parent kills us.
  if (::write(1, l.data(), l.size()) != static_cast<ssize_t>(l.size())) std::_Exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <dir> exit|kill|hold <batches> interval|always\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string mode = argv[2];
  const long batches = std::strtol(argv[3], nullptr, 10);
  RocksOptions o;
  o.path = dir;
  o.sync = std::string(argv[4]) == "always" ? SyncPolicy::always : SyncPolicy::interval;
  o.write_buffer_size = 64 << 10;
  o.target_file_size = 64 << 10;
  o.max_bytes_for_level_base = 256 << 10;
  o.block_cache_size = 1 << 20;
  auto opened = open_rocks_store(o);
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.error().text.c_str());
    return 1;
  }
  StreamStore& store = **opened;
  if (mode == "hold") {
    say("ready");
    for (;;) ::pause();
  }
  StreamConfig sc;
  sc.name = "S";
  sc.subjects = {"foo.>"};
  ConsumerConfig cc;
  cc.name = "C";
  cc.durable = true;
  std::vector<Op> setup{Op{"S", StreamCreateOp{sc, 1}}, Op{"S", ConsumerCreateOp{cc, 1}}};
  auto r = store.apply_batch(setup);
  if (!r || !(*r)[0] || !(*r)[1]) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  for (long i = 0; i < batches; ++i) {
    std::vector<Op> ops;
    for (int j = 1; j <= 3; ++j) {
      StoreMsgOp m;
      m.subject = "foo." + std::to_string(i % 5);
      m.data = "b" + std::to_string(i) + "-" + std::to_string(j) + std::string(100, 'p');
      m.time_ns = 1000 + i;
      ops.push_back(Op{"S", std::move(m)});
    }
    ops.push_back(Op{"S", ConsumerDeliveredOp{"C", ConsumerSeq(static_cast<std::uint64_t>(i) + 1),
                                              StreamSeq(3 * static_cast<std::uint64_t>(i) + 1), 1, 1000 + i}});
    auto out = store.apply_batch(ops);
    if (!out) {
      std::fprintf(stderr, "apply_batch: %s\n", out.error().text.c_str());
      return 1;
    }
    for (const auto& one : *out) {
      if (!one) {
        std::fprintf(stderr, "op rejected: %s\n", one.error().text.c_str());
        return 1;
      }
    }
    say(std::to_string(i));
  }
  if (mode == "exit") std::_Exit(0);  // no close, no destructors
  for (;;) ::pause();
}

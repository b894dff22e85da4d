// RocksKv: the Kv over RocksDB 7.8. One DB per store directory, one column family per Kv
// family (opened by name), one WriteBatch per Kv::write.
//
// Durability: the WAL is written by hand (manual_wal_flush): Kv::write appends to RocksDB's
// in-process WAL buffer, Kv::commit hands it to the OS (FlushWAL(false): survives a process
// kill) or also fsyncs it (FlushWAL(true): survives power loss). One commit per apply_batch
// is the group commit.
//
// RocksDB runs its own flush and compaction threads; every call here comes from the store's
// owner thread.

#include "storage/rocks_kv.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

namespace forest::storage {

namespace {

namespace fs = std::filesystem;

constexpr std::array<const char*, family_count> family_names = {"meta", "messages", "subjects", "consumers"};

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

Error io_error(const std::string& path, std::string_view what, const rocksdb::Status& st) {
  return Error{Errc::io, "store " + path + ": " + std::string(what) + ": " + st.ToString()};
}

// RocksDB reports a held LOCK as an IOError; the text is the only way to tell it apart from
// other I/O errors: "lock hold by current process" (the same process has it open) or the
// fcntl failure "While lock file: .../LOCK: Resource temporarily unavailable".
bool is_lock_error(const rocksdb::Status& st) {
  if (!st.IsIOError()) return false;
  std::string text = st.ToString();
  if (contains(text, "Permission denied")) return false;
  return contains(text, "lock hold by current process") ||
         (contains(text, "lock") && (contains(text, "Resource temporarily unavailable") ||
                                     contains(text, "No locks available") || contains(text, "Try again")));
}

class RocksIterator final : public KvIterator {
 public:
  RocksIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string lower, std::string upper)
      : lower_(std::move(lower)), upper_(std::move(upper)), lower_slice_(slice(lower_)), upper_slice_(slice(upper_)) {
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice_;
    ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
  }

  void seek(std::string_view key) override { it_->Seek(slice(std::max(key, std::string_view(lower_)))); }
  void seek_for_prev(std::string_view key) override {
    // SeekForPrev's target must stay below the upper bound; at or past it means "the last".
    if (key >= std::string_view(upper_)) {
      it_->SeekToLast();
    } else {
      it_->SeekForPrev(slice(key));
    }
  }
  void next() override { it_->Next(); }
  void prev() override { it_->Prev(); }
  bool valid() const override { return it_->Valid(); }
  std::string_view key() const override { return view(it_->key()); }
  std::string_view value() const override { return view(it_->value()); }
  std::expected<void, Error> status() const override {
    rocksdb::Status st = it_->status();
    if (st.ok()) return {};
    return std::unexpected(Error{st.IsCorruption() ? Errc::corrupt : Errc::io, "RocksDB iterator: " + st.ToString()});
  }

 private:
  std::string lower_;
  std::string upper_;
  rocksdb::Slice lower_slice_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksBatch final : public KvBatch {
 public:
  explicit RocksBatch(const std::array<rocksdb::ColumnFamilyHandle*, family_count>& cfs) : cfs_(cfs) {}

  void put(Family f, std::string_view key, std::string_view value) override {
    (void)wb.Put(cf(f), slice(key), slice(value));
  }
  void del(Family f, std::string_view key) override { (void)wb.Delete(cf(f), slice(key)); }
  void del_range(Family f, std::string_view begin, std::string_view end) override {
    if (begin < end) (void)wb.DeleteRange(cf(f), slice(begin), slice(end));
  }
  std::size_t count() const override { return wb.Count(); }

  rocksdb::WriteBatch wb;

 private:
  rocksdb::ColumnFamilyHandle* cf(Family f) const { return cfs_[static_cast<std::size_t>(f)]; }
  const std::array<rocksdb::ColumnFamilyHandle*, family_count>& cfs_;
};

class RocksKv final : public Kv {
 public:
  RocksKv(std::string path, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* default_cf,
          std::array<rocksdb::ColumnFamilyHandle*, family_count> cfs)
      : path_(std::move(path)), db_(db), default_cf_(default_cf), cfs_(cfs) {}

  ~RocksKv() override { (void)close(); }

  std::expected<bool, Error> get(Family f, std::string_view key, std::string& value) const override {
    if (db_ == nullptr) return std::unexpected(Error{Errc::closed, "store " + path_ + " is closed"});
    rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), cf(f), slice(key), &value);
    if (st.ok()) return true;
    if (st.IsNotFound()) return false;
    return std::unexpected(io_error(path_, "read", st));
  }

  std::unique_ptr<KvIterator> iterate(Family f, std::string lower, std::string upper) const override {
    return std::make_unique<RocksIterator>(db_, cf(f), std::move(lower), std::move(upper));
  }

  std::unique_ptr<KvBatch> batch() override { return std::make_unique<RocksBatch>(cfs_); }

  std::expected<void, Error> write(KvBatch& b) override {
    if (db_ == nullptr) return std::unexpected(Error{Errc::closed, "store " + path_ + " is closed"});
    rocksdb::WriteOptions wo;
    wo.sync = false;  // commit() makes it durable, once per apply_batch
    rocksdb::Status st = db_->Write(wo, &static_cast<RocksBatch&>(b).wb);
    if (!st.ok()) return std::unexpected(io_error(path_, "write", st));
    return {};
  }

  std::expected<void, Error> commit(bool fsync) override {
    if (db_ == nullptr) return std::unexpected(Error{Errc::closed, "store " + path_ + " is closed"});
    rocksdb::Status st = db_->FlushWAL(fsync);
    if (!st.ok()) return std::unexpected(io_error(path_, fsync ? "WAL sync" : "WAL flush", st));
    return {};
  }

  std::expected<void, Error> scrub(Family f, std::string_view begin, std::string_view end) override {
    if (db_ == nullptr) return std::unexpected(Error{Errc::closed, "store " + path_ + " is closed"});
    // A forced bottommost compaction of just this range rewrites the files holding it
    // without the deleted values (the memtable is flushed first when it overlaps).
    rocksdb::CompactRangeOptions opts;
    opts.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
    rocksdb::Slice b = slice(begin);
    rocksdb::Slice e = slice(end);
    rocksdb::Status st = db_->CompactRange(opts, cf(f), &b, &e);
    if (!st.ok()) return std::unexpected(io_error(path_, "scrub compaction", st));
    return {};
  }

  std::optional<std::uint64_t> int_property(std::string_view name) const override {
    if (db_ == nullptr) return std::nullopt;
    std::uint64_t total = 0;
    bool any = false;
    for (auto* h : cfs_) {
      std::uint64_t v = 0;
      if (db_->GetIntProperty(h, slice(name), &v)) {
        total += v;
        any = true;
        continue;
      }
      // Some numeric properties ("rocksdb.num-files-at-level<N>") exist only as strings.
      std::string text;
      if (db_->GetProperty(h, slice(name), &text) && !text.empty() &&
          std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        total += std::strtoull(text.c_str(), nullptr, 10);
        any = true;
      }
    }
    if (!any) return std::nullopt;
    return total;
  }

  std::expected<void, Error> close() override {
    if (db_ == nullptr) return {};
    std::expected<void, Error> result;
    rocksdb::Status st = db_->FlushWAL(true);
    if (!st.ok()) result = std::unexpected(io_error(path_, "WAL sync at close", st));
    // Memtables to table files: the next open has no WAL to replay (a million stored messages
    // took 6 s to recover from the WAL, 0.1 s after this flush). After a crash the replay is
    // bounded by the write buffers.
    if (result) {
      rocksdb::FlushOptions fo;
      fo.wait = true;
      std::vector<rocksdb::ColumnFamilyHandle*> all(cfs_.begin(), cfs_.end());
      st = db_->Flush(fo, all);
      if (!st.ok()) result = std::unexpected(io_error(path_, "flush at close", st));
    }
    for (auto* h : cfs_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->DestroyColumnFamilyHandle(default_cf_);
    st = db_->Close();
    if (!st.ok() && result) result = std::unexpected(io_error(path_, "close", st));
    delete db_;
    db_ = nullptr;
    return result;
  }

 private:
  rocksdb::ColumnFamilyHandle* cf(Family f) const { return cfs_[static_cast<std::size_t>(f)]; }

  std::string path_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* default_cf_;
  std::array<rocksdb::ColumnFamilyHandle*, family_count> cfs_;
};

// Files RocksDB may leave in a directory when it died while creating the store (before it
// wrote CURRENT). Anything else in a directory without CURRENT means it is not a store.
bool is_creation_leftover(const std::string& name) {
  return name == "LOCK" || name == "IDENTITY" || name.starts_with("LOG") || name.starts_with("MANIFEST-") ||
         name.starts_with("OPTIONS-");
}

std::unexpected<Error> open_failed(const std::string& path, std::string what) {
  return std::unexpected(Error{Errc::open_failed, "store " + path + ": " + std::move(what)});
}

}  // namespace

std::expected<std::unique_ptr<Kv>, Error> open_rocks_kv(const RocksOptions& o) {
  const std::string& path = o.path;
  if (path.empty()) return std::unexpected(Error{Errc::open_failed, "store: no directory given"});

  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return open_failed(path, "cannot create the directory: " + ec.message());
  if (!fs::is_directory(path, ec)) return open_failed(path, "not a directory");

  // A directory with other things in it is not silently turned into a store.
  const bool has_current = fs::exists(fs::path(path) / "CURRENT", ec);
  if (!has_current) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string name = entry.path().filename().string();
      if (!is_creation_leftover(name)) {
        return open_failed(path, "not a store directory (it holds '" + name + "' and no RocksDB CURRENT file)");
      }
    }
    if (ec) return open_failed(path, "cannot list the directory: " + ec.message());
  }

  rocksdb::DBOptions dbo;
  dbo.create_if_missing = !has_current;
  dbo.create_missing_column_families = true;
  dbo.manual_wal_flush = true;
  dbo.max_background_jobs = o.max_background_jobs;
  dbo.keep_log_file_num = 4;
  dbo.paranoid_checks = true;

  rocksdb::ColumnFamilyOptions cfo;
  cfo.write_buffer_size = o.write_buffer_size;
  cfo.target_file_size_base = o.target_file_size;
  cfo.max_bytes_for_level_base = o.max_bytes_for_level_base;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(o.block_cache_size);  // shared by the families
  // Point lookups (summaries, the subject index's first entries) skip files by bloom filter.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  if (has_current) {
    // An existing RocksDB must be one of ours: no column family we do not know.
    std::vector<std::string> names;
    rocksdb::Status st = rocksdb::DB::ListColumnFamilies(dbo, path, &names);
    if (!st.ok()) return open_failed(path, "cannot read the RocksDB manifest: " + st.ToString());
    for (const auto& n : names) {
      bool known = n == rocksdb::kDefaultColumnFamilyName ||
                   std::find_if(family_names.begin(), family_names.end(), [&](const char* f) { return n == f; }) !=
                       family_names.end();
      if (!known) return open_failed(path, "not a stream store (RocksDB column family '" + n + "')");
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, cfo);
  for (const char* n : family_names) descs.emplace_back(n, cfo);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(dbo, path, descs, &handles, &db);
  if (!st.ok()) {
    if (is_lock_error(st)) {
      return std::unexpected(Error{Errc::locked, "store " + path + " is in use by another process: " + st.ToString()});
    }
    return open_failed(path, st.ToString());
  }
  std::array<rocksdb::ColumnFamilyHandle*, family_count> cfs{};
  for (std::size_t i = 0; i < family_count; ++i) cfs[i] = handles[i + 1];
  auto kv = std::make_unique<RocksKv>(path, db, handles[0], cfs);

  // Nothing of ours lives in the default family: data there means another application's DB.
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[0]));
    it->SeekToFirst();
    if (it->Valid()) {
      it.reset();
      (void)kv->close();
      return open_failed(path, "not a stream store (the default column family holds data)");
    }
  }
  return std::unique_ptr<Kv>(std::move(kv));
}

}  // namespace forest::storage

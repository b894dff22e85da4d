// The in-memory backend: one std::map per family with the same keys as RocksDB, so the
// memory store runs the same engine code over the same order. Writes are immediate; commit
// has nothing to make durable.

#include <map>
#include <variant>
#include <vector>

#include "storage/kv.hpp"

namespace forest::storage {

namespace {

using Map = std::map<std::string, std::string, std::less<>>;

class MemIterator final : public KvIterator {
 public:
  MemIterator(const Map& map, std::string lower, std::string upper)
      : map_(map), lower_(std::move(lower)), upper_(std::move(upper)), it_(map.end()) {}

  void seek(std::string_view key) override {
    it_ = map_.lower_bound(key < std::string_view(lower_) ? std::string_view(lower_) : key);
    check();
  }
  void seek_for_prev(std::string_view key) override {
    it_ = map_.upper_bound(key);
    if (it_ == map_.begin()) {
      it_ = map_.end();
    } else {
      --it_;
    }
    // Keys at or above the upper bound are out of range: step back below it.
    while (it_ != map_.end() && it_->first >= upper_) {
      if (it_ == map_.begin()) {
        it_ = map_.end();
        break;
      }
      --it_;
    }
    check();
  }
  void next() override {
    ++it_;
    check();
  }
  void prev() override {
    if (it_ == map_.begin()) {
      it_ = map_.end();
    } else {
      --it_;
    }
    check();
  }
  bool valid() const override { return it_ != map_.end(); }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }
  std::expected<void, Error> status() const override { return {}; }

 private:
  void check() {
    if (it_ != map_.end() && (it_->first < lower_ || it_->first >= upper_)) it_ = map_.end();
  }

  const Map& map_;
  std::string lower_;
  std::string upper_;
  Map::const_iterator it_;
};

struct Put {
  Family f;
  std::string key;
  std::string value;
};
struct Del {
  Family f;
  std::string key;
};
struct DelRange {
  Family f;
  std::string begin;
  std::string end;
};

class MemBatch final : public KvBatch {
 public:
  void put(Family f, std::string_view key, std::string_view value) override {
    entries.emplace_back(Put{f, std::string(key), std::string(value)});
  }
  void del(Family f, std::string_view key) override { entries.emplace_back(Del{f, std::string(key)}); }
  void del_range(Family f, std::string_view begin, std::string_view end) override {
    entries.emplace_back(DelRange{f, std::string(begin), std::string(end)});
  }
  std::size_t count() const override { return entries.size(); }

  std::vector<std::variant<Put, Del, DelRange>> entries;
};

class MemKv final : public Kv {
 public:
  std::expected<bool, Error> get(Family f, std::string_view key, std::string& value) const override {
    const Map& m = maps_[static_cast<std::size_t>(f)];
    auto it = m.find(key);
    if (it == m.end()) return false;
    value = it->second;
    return true;
  }
  std::unique_ptr<KvIterator> iterate(Family f, std::string lower, std::string upper) const override {
    return std::make_unique<MemIterator>(maps_[static_cast<std::size_t>(f)], std::move(lower),
                                         std::move(upper));
  }
  std::unique_ptr<KvBatch> batch() override { return std::make_unique<MemBatch>(); }
  std::expected<void, Error> write(KvBatch& b) override {
    for (auto& e : static_cast<MemBatch&>(b).entries) {
      if (auto* p = std::get_if<Put>(&e)) {
        map(p->f).insert_or_assign(std::move(p->key), std::move(p->value));
      } else if (auto* d = std::get_if<Del>(&e)) {
        auto& m = map(d->f);
        if (auto it = m.find(d->key); it != m.end()) m.erase(it);
      } else {
        auto& r = std::get<DelRange>(e);
        auto& m = map(r.f);
        if (r.begin < r.end) m.erase(m.lower_bound(r.begin), m.lower_bound(r.end));
      }
    }
    return {};
  }
  std::expected<void, Error> commit(bool) override { return {}; }
  std::expected<void, Error> scrub(Family, std::string_view, std::string_view) override { return {}; }
  std::optional<std::uint64_t> int_property(std::string_view) const override { return std::nullopt; }
  std::expected<void, Error> close() override { return {}; }

 private:
  Map& map(Family f) { return maps_[static_cast<std::size_t>(f)]; }
  Map maps_[family_count];
};

}  // namespace

std::unique_ptr<Kv> make_mem_kv() { return std::make_unique<MemKv>(); }

}  // namespace forest::storage

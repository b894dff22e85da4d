// Trees, nims and sources: the Go app's extension points (internal/core/tree.go, nim.go,
// source.go). A source flows outside data into the river; a tree observes river subjects and
// drops leaves on the wind; a nim catches leaves and writes state through humus (composts the
// decomposer applies to soil) or directly to soil.
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/core/leaf.hpp"
#include "app/layer/humus.hpp"
#include "app/layer/river.hpp"
#include "app/layer/soil.hpp"
#include "app/layer/wind.hpp"

namespace forest::app {

class Tree {
 public:
  virtual ~Tree() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  [[nodiscard]] virtual std::vector<std::string> patterns() const = 0;  // river patterns it observes
  // A leaf made from river data on `subject`, or nullopt when the data is not this tree's.
  [[nodiscard]] virtual std::optional<Leaf> parse(std::string_view subject, std::string_view data) const = 0;
  virtual std::expected<void, forest::Error> start() = 0;
  virtual void stop() = 0;
};

// Observes its patterns, parses each river message and drops what it makes.
class BaseTree : public Tree {
 public:
  BaseTree(std::string name, Wind& wind, River& river) : name_(std::move(name)), wind_(wind), river_(river) {}
  [[nodiscard]] std::string name() const override { return name_; }
  std::expected<void, forest::Error> start() override;
  void stop() override { observers_.clear(); }
  // Fills in the source (the tree's name) when empty.
  std::expected<void, forest::Error> drop(Leaf leaf);

 protected:
  std::string name_;
  Wind& wind_;
  River& river_;
  std::vector<std::unique_ptr<RiverObserver>> observers_;
};

class Nim {
 public:
  virtual ~Nim() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  [[nodiscard]] virtual std::vector<std::string> subjects() const = 0;  // wind patterns it catches
  virtual std::expected<void, forest::Error> handle(const Leaf& leaf) = 0;
  virtual std::expected<void, forest::Error> start() = 0;
  virtual void stop() = 0;
};

// Catches its subjects and hands each leaf to handle(); helpers write leaves and state.
class BaseNim : public Nim {
 public:
  BaseNim(std::string name, Wind& wind, Humus& humus, Soil& soil, LogFn log = {})
      : name_(std::move(name)), wind_(wind), humus_(humus), soil_(soil), log_(std::move(log)) {}
  [[nodiscard]] std::string name() const override { return name_; }
  std::expected<void, forest::Error> start() override;
  void stop() override { subs_.clear(); }

  // A leaf from this nim (source = its name) on `subject`; `data` is raw JSON.
  std::expected<void, forest::Error> leaf(std::string subject, std::string data);
  // A state change through humus; the slot (stream sequence).
  std::expected<uint64_t, forest::Error> compost(std::string_view entity, std::string_view action, std::string_view data);
  [[nodiscard]] std::expected<std::pair<std::string, uint64_t>, forest::Error> dig(std::string_view key) const {
    return soil_.dig(key);
  }
  std::expected<uint64_t, forest::Error> bury(std::string_view key, std::string_view data, uint64_t rev) {
    return soil_.bury(key, data, rev);
  }

 protected:
  std::string name_;
  Wind& wind_;
  Humus& humus_;
  Soil& soil_;
  LogFn log_;
  std::vector<forest::Subscription> subs_;
};

// A source of outside data (webhook, poller, ...), flowing into the river on its subject.
class BaseSource {
 public:
  BaseSource(std::string name, std::string type, std::string publishes, River& river)
      : name_(std::move(name)), type_(std::move(type)), publishes_(std::move(publishes)), river_(river) {}
  virtual ~BaseSource() = default;
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& type() const { return type_; }  // http_webhook, http_poll, ceremony
  virtual std::expected<void, forest::Error> start() {
    running_ = true;
    return {};
  }
  virtual void stop() { running_ = false; }
  [[nodiscard]] bool is_running() const { return running_; }
  std::expected<uint64_t, forest::Error> flow(std::string_view data) { return river_.flow(publishes_, data); }
  std::expected<uint64_t, forest::Error> flow_with_subject(std::string_view suffix, std::string_view data) {
    return river_.flow(publishes_ + "." + std::string(suffix), data);
  }

 private:
  std::string name_, type_, publishes_;
  River& river_;
  bool running_ = false;
};

}  // namespace forest::app

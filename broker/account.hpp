// An account: a namespace of subjects with its own subject index. Every connection,
// subscription and publish belongs to one; "$G" when no accounts are configured.
// Accounts live as long as the server; their sublist is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "sublist.hpp"

namespace forest::broker {

inline constexpr const char* kGlobalAccount = "$G";

class Account {
 public:
  explicit Account(std::string name, uint32_t index) : name_(std::move(name)), index_(index) {}
  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  // Dense index, so per-thread state (match caches) can be kept in a vector.
  [[nodiscard]] uint32_t index() const { return index_; }
  [[nodiscard]] Sublist& sublist() { return sublist_; }
  [[nodiscard]] const Sublist& sublist() const { return sublist_; }

  std::atomic<int64_t> connections{0};

 private:
  std::string name_;
  uint32_t index_;
  Sublist sublist_;
};

}  // namespace forest::broker

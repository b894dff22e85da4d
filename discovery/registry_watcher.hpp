// RegistryWatcher: polls the registry file and reports when this node's peer list changes.
//
// The registry lives on a CIFS share, where inotify sees nothing of other machines' writes,
// so the file is read every `interval` (a few KiB) and compared by mtime, size and a hash of
// its content: the hash catches a rewrite of equal size inside CIFS's coarse mtime, mtime
// and size make a log line say what changed.
//
// Threads: the watcher owns one thread, started by the constructor and joined by stop() or
// the destructor (promptly: the wait between polls is interruptible). Callbacks run on that
// thread, one at a time, with no lock of the watcher held; they must not block for long and
// must not destroy the watcher (post to your own thread instead). peers() may be called from
// any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "discovery/addresses.hpp"
#include "discovery/error.hpp"
#include "discovery/node_info.hpp"
#include "discovery/peers.hpp"

namespace forest::discovery {

struct WatcherOptions {
  std::chrono::milliseconds interval{std::chrono::seconds(5)};
  PeerOptions peers;
};

struct WatcherCallbacks {
  // The new peer list, whenever it differs from the last one (the initial list counts).
  std::function<void(const std::vector<Peer>&)> on_peers;
  // A registry that cannot be read or parsed; the last good peer list stays in force and the
  // file is retried every poll. Reported once per distinct bad content, not once per poll.
  std::function<void(const Error&)> on_error;
  // The registry is good again after on_error.
  std::function<void()> on_recovered;
};

// Supplies this machine's addresses at each poll (addresses change: DHCP, SLAAC). Tests pass
// a fixed set; the default enumerates the interfaces and, if that fails, uses no addresses
// (the node is still recognised by its id).
using AddressSource = std::function<LocalAddresses()>;

[[nodiscard]] AddressSource system_address_source();

class RegistryWatcher {
 public:
  // Starts watching. `initial` is the peer list the caller already acts on (from its startup
  // read); the first poll happens at once and reports only a difference from it. Fails only
  // when the thread cannot be created.
  [[nodiscard]] static std::expected<std::unique_ptr<RegistryWatcher>, Error> start(
      std::string registry_path, NodeInfo self, WatcherOptions options, WatcherCallbacks callbacks,
      AddressSource addresses = system_address_source(), std::vector<Peer> initial = {});
  ~RegistryWatcher();
  RegistryWatcher(const RegistryWatcher&) = delete;
  RegistryWatcher& operator=(const RegistryWatcher&) = delete;

  // Stops polling and joins the thread; idempotent. Returns within one read of the file.
  void stop();

  // The current peer list (the last one reported, or `initial`).
  [[nodiscard]] std::vector<Peer> peers() const;
  // Completed polls, so tests can wait for "at least one more poll" without sleeping blindly.
  [[nodiscard]] std::uint64_t polls() const;

 private:
  RegistryWatcher(std::string registry_path, NodeInfo self, WatcherOptions options, WatcherCallbacks callbacks,
                  AddressSource addresses, std::vector<Peer> initial);

  struct Fingerprint {
    bool exists = false;
    std::int64_t mtime_ns = 0;
    std::uint64_t size = 0;
    std::uint64_t hash = 0;
    bool operator==(const Fingerprint&) const = default;
  };

  void run();
  void poll_once();

  const std::string path_;
  const NodeInfo self_;
  const WatcherOptions options_;
  const WatcherCallbacks callbacks_;
  const AddressSource addresses_;

  // Only the watcher thread touches these.
  std::optional<Fingerprint> last_seen_;  // the content last parsed (good or bad)
  LocalAddresses last_local_;
  bool in_error_ = false;
  std::optional<Fingerprint> last_error_;  // the bad content last reported

  mutable std::mutex mu_;  // guards the members below
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<Peer> peers_;
  std::uint64_t polls_ = 0;

  std::thread thread_;  // started by start(), once everything above is initialised
};

}  // namespace forest::discovery

#include "discovery/registry_watcher.hpp"

#include <system_error>

#include "discovery/file_io.hpp"
#include "discovery/registry.hpp"

namespace forest::discovery {

namespace {

// FNV-1a: stable and fast enough for a few KiB every few seconds.
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr std::chrono::milliseconds kMinInterval{1};

}  // namespace

AddressSource system_address_source() {
  return [] {
    auto local = system_local_addresses();
    return local ? std::move(*local) : LocalAddresses{};
  };
}

std::expected<std::unique_ptr<RegistryWatcher>, Error> RegistryWatcher::start(
    std::string registry_path, NodeInfo self, WatcherOptions options, WatcherCallbacks callbacks,
    AddressSource addresses, std::vector<Peer> initial) {
  std::unique_ptr<RegistryWatcher> w(new RegistryWatcher(std::move(registry_path), std::move(self), options,
                                                         std::move(callbacks), std::move(addresses),
                                                         std::move(initial)));
  try {
    w->thread_ = std::thread([raw = w.get()] { raw->run(); });
  } catch (const std::system_error& e) {
    return std::unexpected(Error{Errc::io, w->path_, 0, 0, std::string("cannot start the registry watcher: ") + e.what()});
  }
  return w;
}

RegistryWatcher::RegistryWatcher(std::string registry_path, NodeInfo self, WatcherOptions options,
                                 WatcherCallbacks callbacks, AddressSource addresses, std::vector<Peer> initial)
    : path_(std::move(registry_path)),
      self_(std::move(self)),
      options_(options),
      callbacks_(std::move(callbacks)),
      addresses_(addresses ? std::move(addresses) : system_address_source()),
      peers_(std::move(initial)) {}

RegistryWatcher::~RegistryWatcher() { stop(); }

void RegistryWatcher::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  // From a callback (the watcher's own thread) we can only ask it to stop: joining would
  // wait for ourselves.
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::vector<Peer> RegistryWatcher::peers() const {
  std::lock_guard lk(mu_);
  return peers_;
}

std::uint64_t RegistryWatcher::polls() const {
  std::lock_guard lk(mu_);
  return polls_;
}

void RegistryWatcher::run() {
  const auto interval = std::max(options_.interval, kMinInterval);
  std::unique_lock lk(mu_);
  while (!stopping_) {
    lk.unlock();
    poll_once();
    lk.lock();
    ++polls_;
    wake_.wait_for(lk, interval, [this] { return stopping_; });
  }
}

void RegistryWatcher::poll_once() {
  auto file = read_file(path_);
  Fingerprint fp;
  if (!file) {
    // Unreadable (EIO, ESTALE on a share that went away...): same error, same fingerprint,
    // so it is reported once.
    fp = Fingerprint{true, -1, 0, fnv1a(file.error().to_string())};
  } else if (file->has_value()) {
    const FileSnapshot& snap = **file;
    fp = Fingerprint{true, snap.mtime_ns, snap.size, fnv1a(snap.bytes)};
  }
  LocalAddresses local = addresses_();
  if (last_seen_ && *last_seen_ == fp && local == last_local_) return;
  last_seen_ = fp;
  last_local_ = local;

  std::expected<Registry, Error> reg = !file ? std::unexpected(file.error())
                                       : file->has_value() ? parse_registry((*file)->bytes, path_)
                                                           : std::expected<Registry, Error>(Registry{});
  if (!reg) {
    // Keep the last good peer list: a half-written file (the Go app rewrites in place) is
    // the usual cause and fixes itself by the next poll.
    in_error_ = true;
    if (last_error_ != fp && callbacks_.on_error) callbacks_.on_error(reg.error());
    last_error_ = fp;
    return;
  }
  if (in_error_) {
    in_error_ = false;
    last_error_.reset();
    if (callbacks_.on_recovered) callbacks_.on_recovered();
  }
  std::vector<Peer> peers = select_peers(*reg, self_, local, options_.peers);
  {
    std::lock_guard lk(mu_);
    if (peers == peers_) return;
    peers_ = peers;
  }
  if (callbacks_.on_peers) callbacks_.on_peers(peers);
}

}  // namespace forest::discovery

#include "discovery/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>

namespace forest::discovery {

namespace {

// Closes a descriptor on every return path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  // close() reports deferred write errors (NFS, CIFS): callers that wrote must check it.
  int close() {
    const int r = ::close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::expected<std::optional<FileSnapshot>, Error> read_file(const std::string& path, std::size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<FileSnapshot>();
    return std::unexpected(io_error(path, "cannot open", errno));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(io_error(path, "cannot stat", errno));
  if (S_ISDIR(st.st_mode)) return std::unexpected(io_error(path, "cannot read", EISDIR));
  FileSnapshot snap;
  snap.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  snap.size = static_cast<std::uint64_t>(st.st_size);
  // Read to EOF rather than st_size bytes: a writer may be growing the file right now.
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error(path, "cannot read", errno));
    }
    if (n == 0) break;
    if (snap.bytes.size() + static_cast<std::size_t>(n) > max_bytes) {
      return std::unexpected(Error{Errc::io, path, 0, 0,
                                   "file is larger than " + std::to_string(max_bytes) + " bytes"});
    }
    snap.bytes.append(buf, static_cast<std::size_t>(n));
  }
  return std::optional<FileSnapshot>(std::move(snap));
}

std::expected<void, Error> write_file_atomically(const std::string& path_in, std::string_view bytes, mode_t mode) {
  std::string path = path_in;
  struct stat lst{};
  if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) return std::unexpected(io_error(path, "cannot resolve symlink", errno));
    path = resolved;
  }
  // Unique among processes (pid) and threads (counter); hidden so no tool mistakes it for a
  // registry. A crash leaves it behind, harmless.
  static std::atomic<unsigned> counter{0};
  const std::string tmp = directory_of(path) + "/." + base_name_of(path) + ".tmp-" +
                          std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) return std::unexpected(io_error(tmp, "cannot create temporary file", errno));
  auto fail = [&](const char* what) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return std::unexpected(io_error(tmp, what, e));
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  // The umask may have narrowed the mode given to open(); the Go app's files are 0644.
  if (::fchmod(fd.get(), mode) != 0) return fail("cannot chmod");
  if (::fsync(fd.get()) != 0) return fail("cannot fsync");
  if (fd.close() != 0) return fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return std::unexpected(io_error(path, "cannot rename " + tmp + " over it", e));
  }
  // Makes the rename itself durable. CIFS and some FUSE filesystems refuse fsync on a
  // directory (EINVAL); the data is already safe there, so that is not an error.
  Fd dir(::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) (void)::fsync(dir.get());
  return {};
}

}  // namespace forest::discovery

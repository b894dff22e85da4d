// The server log in nats-server's format: "[pid] 2006/01/02 15:04:05.000000 [INF] text".
// Thread-safe (one mutex around one write); levels follow -D (debug) and -V (trace).
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace forest::broker {

class Logger {
 public:
  Logger() = default;
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Opens (or re-opens, for log rotation) the log file; empty means stderr.
  bool open(const std::string& path, std::string* error);
  void set_levels(bool debug, bool trace, bool logtime) {
    debug_.store(debug, std::memory_order_relaxed);
    trace_.store(trace, std::memory_order_relaxed);
    logtime_.store(logtime, std::memory_order_relaxed);
  }
  [[nodiscard]] bool debug_enabled() const { return debug_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool trace_enabled() const { return trace_.load(std::memory_order_relaxed); }

  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) { write("[INF] ", fmt::format(f, std::forward<Args>(args)...)); }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) { write("[WRN] ", fmt::format(f, std::forward<Args>(args)...)); }
  template <typename... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) { write("[ERR] ", fmt::format(f, std::forward<Args>(args)...)); }
  template <typename... Args>
  void fatal(fmt::format_string<Args...> f, Args&&... args) { write("[FTL] ", fmt::format(f, std::forward<Args>(args)...)); }
  template <typename... Args>
  void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (debug_enabled()) write("[DBG] ", fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void trace(fmt::format_string<Args...> f, Args&&... args) {
    if (trace_enabled()) write("[TRC] ", fmt::format(f, std::forward<Args>(args)...));
  }

  void write(std::string_view label, std::string_view text);

  // An embedder's log sink: gets the label ("[INF] ") and the text instead of the file; set
  // before the server starts.
  using Sink = std::function<void(std::string_view label, std::string_view text)>;
  void set_sink(Sink sink) { sink_ = std::move(sink); }

 private:
  Sink sink_;
  std::mutex mu_;
  std::FILE* file_ = nullptr;  // nullptr: stderr
  std::atomic<bool> debug_{false}, trace_{false}, logtime_{true};
};

}  // namespace forest::broker

// Helpers of the tests that embed a forest::Server in the test process (suites embed and
// embed-js): a scratch directory, a quiet local configuration, and waiting for a condition.
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

#include <forest/server.hpp>

namespace forest::testing {

// A fresh (removed) path under the temp dir, unique per process and name.
inline std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("forest-embed-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

// On 127.0.0.1, logs dropped; with a data dir: JetStream there, no TCP ports (in-process only).
inline forest::Config quiet_config(const std::filesystem::path& data_dir = {}) {
  forest::Config c;
  c.host = "127.0.0.1";
  c.log_sink = [](forest::LogLevel, std::string_view) {};
  if (!data_dir.empty()) {
    c.data_dir = data_dir.string();
    c.client_port = -1;
    c.monitor_port = -1;
  } else {
    c.client_port = 0;
    c.monitor_port = 0;
  }
  return c;
}

// Polls `pred` every 20 ms until it holds or `timeout` passed; its last answer.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace forest::testing

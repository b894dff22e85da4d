// The smallest embedding: a forest server in this process, one in-process client that
// subscribes and publishes, no TCP in between. Built and run by the test suite (suite `embed`).
#include <forest/server.hpp>

#include <chrono>
#include <future>
#include <iostream>

int main() {
  forest::Config config;
  config.client_port = 0;    // an ephemeral port: external NATS clients may connect too
  config.monitor_port = -1;  // no monitoring endpoint
  forest::Server server(config);
  if (auto started = server.start(); !started) {
    std::cerr << "start: " << started.error().text << "\n";
    return 1;
  }
  auto conn = server.connect({.name = "hello"});
  if (!conn) return 1;
  std::promise<std::string> got;
  auto sub = (*conn)->subscribe("greet.*", [&](const forest::Message& m) { got.set_value(m.subject + " " + m.data); });
  if (!sub || !(*conn)->publish("greet.world", "hello")) return 1;
  auto answer = got.get_future();
  if (answer.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return 1;
  std::cout << answer.get() << " (external clients: " << server.client_url() << ")\n";
  server.shutdown();
  return 0;
}

// JetStream in the monitoring endpoints of a server embedded in the test process: JetStream
// configured but not serving, and /jsz while the service thread is busy. In-process (it links
// the broker and the JetStream service), so the sanitizer builds run it too.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <unistd.h>
#include <string>

#include "jetstream/service.hpp"
#include "logger.hpp"
#include "monitor_http.hpp"
#include "server.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

// A server in this process (monitoring on, JetStream in the options), with or without the
// JetStream service.
std::unique_ptr<forest::broker::Server> embedded(const std::filesystem::path& dir, bool with_service) {
  forest::broker::Options o;
  o.host = "127.0.0.1";
  o.port = forest::broker::kRandomPort;
  o.http_port = forest::broker::kRandomPort;
  o.jetstream.enabled = true;
  o.jetstream.store_dir = dir.string();
  auto server = std::make_unique<forest::broker::Server>(std::move(o), std::make_shared<forest::broker::Logger>());
  if (with_service) server->add_service(std::make_unique<forest::broker::js::JetStreamService>(*server));
  return server;
}

}  // namespace

TEST_CASE("JetStream configured but not serving: /jsz disabled, js-enabled-only unavailable, no INFO flag",
          "[jetstream][jsmonitor]") {
  const auto dir = std::filesystem::temp_directory_path() / ("forest-jsz-none-" + std::to_string(::getpid()));
  auto server = embedded(dir, false);
  REQUIRE(server->start());
  const HttpAnswer jsz = http(server->http_port(), "/jsz");
  CHECK(jsz.status == 200);
  CHECK(jsz.body.find("\"disabled\":true") != std::string::npos);
  // As nats-server answers while its JetStream is not enabled; the plain check stays "ok".
  for (const char* target : {"/healthz?js-enabled-only=true", "/healthz?js-enabled=1", "/healthz?js-server-only=true"}) {
    INFO(target);
    const HttpAnswer h = http(server->http_port(), target);
    CHECK(h.status == 503);
    CHECK(h.body == R"j({"status":"unavailable","error":"JetStream not enabled (10076)"})j");
  }
  CHECK(http(server->http_port(), "/healthz").body == R"({"status":"ok"})");
  CHECK(info_line(server->client_port()).find("jetstream") == std::string::npos);
  server->shutdown();
  std::filesystem::remove_all(dir);
}

TEST_CASE("/jsz waits for a busy service thread only so long", "[jetstream][jsmonitor]") {
  const auto dir = std::filesystem::temp_directory_path() / ("forest-jsz-busy-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto server = embedded(dir, true);
  REQUIRE(server->start());
  CHECK(http(server->http_port(), "/jsz").status == 200);
  // The service thread is stuck in something for longer than /jsz waits.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  forest::asio::post(server->service_thread().context(), [released] { released.wait_for(20s); });
  const auto t0 = std::chrono::steady_clock::now();
  const HttpAnswer busy = http(server->http_port(), "/jsz");
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(busy.status == 503);
  CHECK(busy.body == "JetStream did not answer within 5s");
  CHECK(waited >= 4900ms);
  CHECK(waited < 15s);
  // Meanwhile the rest of the monitor answers again, and /jsz once the thread is free.
  CHECK(http(server->http_port(), "/healthz?js-enabled-only=true").status == 200);
  release.set_value();
  CHECK(http(server->http_port(), "/jsz").status == 200);
  server->shutdown();
  std::filesystem::remove_all(dir);
}

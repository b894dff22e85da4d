// A server under test with JetStream on, in its own store directory: forest-server or the
// reference nats-server 2.9.10, started on ephemeral ports, with a libnats connection and
// JetStream context. The same assertions run on both.
#pragma once

#include <nats/nats.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "server_process.hpp"

namespace forest::testing {

struct JsTarget {
  std::string kind;  // "forest" or "nats"
  std::filesystem::path dir;
  std::vector<std::string> extra_args;
  std::unique_ptr<ServerProcess> server;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;

  JsTarget(std::string k, const std::string& tag, std::vector<std::string> extra = {}, bool fresh = true)
      : kind(std::move(k)), extra_args(std::move(extra)) {
    dir = std::filesystem::temp_directory_path() / ("forest-js-" + tag + "-" + kind + "-" + std::to_string(::getpid()));
    if (fresh) std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    start();
  }
  ~JsTarget() {
    disconnect();
    if (server) server->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  JsTarget(const JsTarget&) = delete;
  JsTarget& operator=(const JsTarget&) = delete;

  [[nodiscard]] std::string binary() const {
    return kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
  }
  void start() {
    std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1", "-js", "-sd", dir.string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    server = ServerProcess::start(binary(), args);
    if (!server) return;
    const std::string url = "nats://127.0.0.1:" + std::to_string(server->client_port());
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetSendAsap(opts, true);
    natsOptions_SetTimeout(opts, 5000);
    if (natsConnection_Connect(&nc, opts) != NATS_OK) nc = nullptr;
    natsOptions_Destroy(opts);
    if (nc == nullptr) return;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) js = nullptr;
  }
  void disconnect() {
    if (js != nullptr) jsCtx_Destroy(js);
    js = nullptr;
    if (nc != nullptr) natsConnection_Destroy(nc);
    nc = nullptr;
  }
  // kill -9 and start again on the same store directory.
  void crash_and_restart() {
    disconnect();
    server->send_signal(SIGKILL);
    server->stop(std::chrono::milliseconds(100));
    server.reset();
    start();
  }
  [[nodiscard]] bool ready() const { return server != nullptr && nc != nullptr && js != nullptr; }

  // A raw request; "" on timeout.
  [[nodiscard]] std::string request(const std::string& subject, const std::string& body = "") const {
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, nc, subject.c_str(), body.data(), static_cast<int>(body.size()), 2000) != NATS_OK) {
      return "";
    }
    std::string out(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return out;
  }
};

inline bool have_reference() { return ::access(ServerProcess::nats_binary().c_str(), X_OK) == 0; }

}  // namespace forest::testing

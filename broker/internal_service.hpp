// A service that lives inside the server (the JetStream API; later others): started by
// Server::start() once every thread runs and before clients are accepted, stopped by
// Server::shutdown() after clients are gone and before the threads stop. The server owns it;
// start() and stop() are called on the thread that calls Server::start()/shutdown(), and a
// service posts to Server::service_thread() for what must run there.
#pragma once

#include <expected>
#include <string>

namespace forest::broker {

class InternalService {
 public:
  virtual ~InternalService() = default;
  // A failure is a startup error: the server does not accept clients and start() returns it.
  [[nodiscard]] virtual std::expected<void, std::string> start() = 0;
  // Called once, only after a successful start().
  virtual void stop() = 0;
};

}  // namespace forest::broker

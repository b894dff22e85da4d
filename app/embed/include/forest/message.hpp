// A message as the embedding app sends and receives it, and the errors of the client API.
// Standard library only: the public headers of libforest expose no Asio or broker types.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace forest {

struct Error {
  std::string text;
  int status = 0;    // a NATS status (503 no responders, 408 timeout, 404 ...), 0 if none
  int api_code = 0;  // a JetStream API err_code (10059 stream not found ...), 0 if none
};

struct Message {
  std::string subject;
  std::string reply;
  // The raw NATS/1.0 header block ("NATS/1.0\r\nName: value\r\n\r\n"), empty without headers.
  std::string headers;
  std::string data;

  // The first value of a header (names compare case-insensitively, as in nats.go).
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
  // The status code of a status message ("NATS/1.0 503"), 0 for an ordinary message.
  [[nodiscard]] int status() const;
};

// Builds a header block from name/value pairs (for publishing with headers).
class Headers {
 public:
  Headers& add(std::string_view name, std::string_view value);
  [[nodiscard]] std::string block() const { return block_.empty() ? std::string() : "NATS/1.0\r\n" + block_ + "\r\n"; }

 private:
  std::string block_;
};

}  // namespace forest

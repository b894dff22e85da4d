// CONNECT's options, and reading them from its JSON. Apart from the connection so that the
// fuzzer (tests/fuzz/) can reach the reader without a server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace forest::broker {

// What a CONNECT asked for (nats-server's defaults when a field is absent).
struct ConnectOptions {
  bool verbose = true, pedantic = true, echo = true, headers = false, no_responders = false;
  int64_t protocol = 0;
  std::string name, lang, version, user, pass, token;
  std::string nkey, sig;  // an nkey user: its public key and the signature of our nonce
};

// Fills `f` from CONNECT's JSON; false when it is not an object or a known field has the
// wrong type (nats-server then closes with a parse error).
[[nodiscard]] bool parse_connect(std::string_view json, ConnectOptions& f);

}  // namespace forest::broker

// The client-visible error texts, exactly as nats-server 2.9 sends them (`-ERR '<text>'`).
// One table, so a test can compare them against the reference server.
#pragma once

#include <string_view>

namespace forest::protocol::err {

inline constexpr std::string_view kUnknownOperation = "Unknown Protocol Operation";
inline constexpr std::string_view kMaxControlLine = "maximum control line exceeded";
inline constexpr std::string_view kMaxPayload = "Maximum Payload Violation";
inline constexpr std::string_view kAuthorizationViolation = "Authorization Violation";
inline constexpr std::string_view kAuthenticationTimeout = "Authentication Timeout";
inline constexpr std::string_view kInvalidSubject = "Invalid Subject";
inline constexpr std::string_view kInvalidPublishSubject = "Invalid Publish Subject";
inline constexpr std::string_view kStaleConnection = "Stale Connection";
inline constexpr std::string_view kMaxConnections = "maximum connections exceeded";
inline constexpr std::string_view kMaxSubscriptions = "maximum subscriptions exceeded";
inline constexpr std::string_view kMaxAccountConnections = "maximum account active connections exceeded";
inline constexpr std::string_view kBadClientProtocol = "invalid client protocol";
inline constexpr std::string_view kNoRespondersRequiresHeaders = "no responders requires headers support";

}  // namespace forest::protocol::err

// Service latency tracking of exports (nats-server 2.9's `latency` on a service export): which
// requests are measured, and the report the exporting account receives on the latency subject,
// the JSON of nats-server's ServiceLatency (type io.nats.server.metric.v1.service_latency).
//
// The measuring itself (when a request crosses the import, when its response comes back) is in
// imports.cpp; this file holds the rules and the wire format, so both can be read on their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client_info.hpp"
#include "conn_info.hpp"
#include "options.hpp"

namespace forest::broker {

// The server a report comes from (a responder's server and cluster).
struct LatencyServer {
  std::string name;
  std::string cluster;
};

// A responder as nats-server reports it: everything, with its RTT and this server. A requester
// is reported so too when its import has `share: true`; else only its account and RTT.
[[nodiscard]] ClientInfo responder_info(const ConnSnapshot& conn, const LatencyServer& server);

// Tracing headers, canonical key and value, in the order nats-server's JSON writes them
// (a Go map: sorted by key).
using TracingHeaders = std::vector<std::pair<std::string, std::string>>;

struct SampleDecision {
  bool sample = false;
  TracingHeaders headers;  // only when a header decided it
};

// nats-server's shouldSample: 100% always; a percentage at random; otherwise (or when the dice
// said no) the request's own tracing headers decide: Uber-Trace-Id with the sampled flag,
// X-B3-Sampled 1 (0 refuses), X-B3-TraceId, B3 not ending in "-0", traceparent ending "-01".
// `headers` is the request's raw "NATS/1.0\r\n..." block, empty without one.
[[nodiscard]] SampleDecision should_sample(const ServiceLatencyConfig& cfg, std::string_view headers);

// One ServiceLatency report. Statuses as nats-server's: 200 (measured), 400 "Bad Request" (a
// sampled request without a reply subject), 408 "Request Timeout" (the requester's interest
// went before the response), 503 "Service Unavailable" (nobody in the exporter took it),
// 504 "Service Timeout" (no response within the export's response threshold).
struct LatencyReport {
  int status = 200;
  std::string description;
  std::optional<ClientInfo> requestor, responder;
  TracingHeaders headers;
  SystemTime request_start{};
  std::chrono::nanoseconds service{0}, system{0}, total{0};
};

// The report for a response that arrived `service_rtt` after the request was forwarded
// (nats-server's sendTrackingLatency without a remote measurement): service time is that less
// the responder's RTT; total adds the requester's RTT.
[[nodiscard]] LatencyReport measured_report(std::optional<ClientInfo> requestor, std::optional<ClientInfo> responder,
                                            SystemTime forwarded_at, std::chrono::nanoseconds service_rtt,
                                            TracingHeaders headers);
// A report without a response (400, 408, 503, 504). A requester that is not a client (an
// internal publisher) has no ClientInfo: null, as in nats-server.
[[nodiscard]] LatencyReport failed_report(int status, std::optional<ClientInfo> requestor, SystemTime forwarded_at,
                                          TracingHeaders headers);

// The JSON, with a fresh event id and `now` as its timestamp.
[[nodiscard]] std::string latency_json(const LatencyReport& r, SystemTime now);

}  // namespace forest::broker

// The pieces the JetStream client's files share (private to libforest): a small JSON writer
// for request bodies, reading response fields with simdjson, RFC 3339 times and base64.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "forest/jetstream.hpp"

namespace forest::js_detail {

// Writes one JSON object, field by field; strings escaped as JSON requires.
class JsonOut {
 public:
  JsonOut& open() { return raw_char('{'); }
  JsonOut& close() {
    out_ += '}';
    first_ = false;
    return *this;
  }
  JsonOut& key(std::string_view k);
  JsonOut& str(std::string_view k, std::string_view v) { return key(k).quoted(v); }
  JsonOut& num(std::string_view k, int64_t v) { return key(k).raw(std::to_string(v)); }
  JsonOut& unum(std::string_view k, uint64_t v) { return key(k).raw(std::to_string(v)); }
  JsonOut& boolean(std::string_view k, bool v) { return key(k).raw(v ? "true" : "false"); }
  JsonOut& quoted(std::string_view v);
  JsonOut& raw(std::string_view v) {
    out_ += v;
    first_ = false;
    return *this;
  }
  JsonOut& raw_char(char c) {
    out_ += c;
    first_ = c == '{' || c == '[';
    return *this;
  }
  JsonOut& comma() {  // before an array element but the first
    if (!first_) out_ += ',';
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  bool first_ = true;
};

// A parsed response: owns its parser, so elements stay valid while it lives.
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;
  explicit Json(std::string_view text);
};

// Missing or of another type: the fallback.
uint64_t get_u64(simdjson::dom::element e, std::string_view key, uint64_t fallback = 0);
int64_t get_i64(simdjson::dom::element e, std::string_view key, int64_t fallback = 0);
bool get_bool(simdjson::dom::element e, std::string_view key);
std::string get_str(simdjson::dom::element e, std::string_view key);

// {"error":{"code":..,"err_code":..,"description":..}} as an Error; nullopt without "error".
std::optional<Error> error_of_response(simdjson::dom::element root);
Error error_of(std::string text, int status = 0, int api_code = 0);

// Nanoseconds since the epoch (broker::parse_rfc3339's result) as a time point.
std::chrono::system_clock::time_point time_of_ns(int64_t ns);

// Adds "Name: value" lines to a header block (creating "NATS/1.0\r\n" when empty).
void add_header(std::string& block, std::string_view name, std::string_view value);

std::string write_stream_config(const StreamConfig& c);
StreamConfig read_stream_config(simdjson::dom::element e);
std::expected<StreamInfo, Error> read_stream_info(std::string json);
std::expected<ConsumerInfo, Error> read_consumer_info(std::string json);

}  // namespace forest::js_detail

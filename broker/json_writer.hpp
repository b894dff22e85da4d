// A small streaming JSON writer for INFO and the monitoring endpoints: fields in the order
// written (nats-server's order where clients or tools may care), strings escaped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace forest::broker {

class JsonWriter {
 public:
  JsonWriter& begin_object() { comma(); out_.push_back('{'); first_ = true; return *this; }
  JsonWriter& end_object() { out_.push_back('}'); first_ = false; return *this; }
  JsonWriter& begin_array() { comma(); out_.push_back('['); first_ = true; return *this; }
  JsonWriter& end_array() { out_.push_back(']'); first_ = false; return *this; }
  JsonWriter& key(std::string_view k) {
    comma();
    string_value(k);
    out_.push_back(':');
    first_ = true;  // the value follows without a comma
    return *this;
  }
  JsonWriter& value(std::string_view s) { comma(); string_value(s); return *this; }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) { comma(); out_.append(b ? "true" : "false"); return *this; }
  JsonWriter& value(int64_t n) { comma(); fmt::format_to(std::back_inserter(out_), "{}", n); return *this; }
  JsonWriter& value(uint64_t n) { comma(); fmt::format_to(std::back_inserter(out_), "{}", n); return *this; }
  JsonWriter& value(int n) { return value(static_cast<int64_t>(n)); }
  JsonWriter& value(uint32_t n) { return value(static_cast<uint64_t>(n)); }
  JsonWriter& value(double d) { comma(); fmt::format_to(std::back_inserter(out_), "{}", d); return *this; }
  JsonWriter& raw(std::string_view json) { comma(); out_.append(json); return *this; }

  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) { key(k); return value(v); }

  [[nodiscard]] const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void comma() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  void string_value(std::string_view s) {
    out_.push_back('"');
    for (char c : s) {
      switch (c) {
        case '"': out_.append("\\\""); break;
        case '\\': out_.append("\\\\"); break;
        case '\n': out_.append("\\n"); break;
        case '\r': out_.append("\\r"); break;
        case '\t': out_.append("\\t"); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            fmt::format_to(std::back_inserter(out_), "\\u{:04x}", static_cast<int>(c));
          } else if (c == '<' || c == '>' || c == '&') {
            // Go's encoder escapes these too; matching keeps outputs byte-comparable.
            fmt::format_to(std::back_inserter(out_), "\\u{:04x}", static_cast<int>(c));
          } else {
            out_.push_back(c);
          }
      }
    }
    out_.push_back('"');
  }

  std::string out_;
  bool first_ = true;
};

}  // namespace forest::broker

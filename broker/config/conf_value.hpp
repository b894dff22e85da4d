// The parsed form of a nats-server configuration file: a tree of typed values, each with the
// file, line and column it came from so that later checks can point at the right place.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forest::config {

struct SourcePos {
  std::shared_ptr<const std::string> file;  // shared: many values come from one file
  int line = 0;
  int column = 0;

  [[nodiscard]] std::string describe() const;  // "file:line:column"
};

struct ConfValue {
  enum class Type : uint8_t { string, integer, floating, boolean, map, array };

  Type type = Type::string;
  std::string str;
  int64_t integer = 0;
  double floating = 0;
  bool boolean = false;
  std::vector<std::pair<std::string, ConfValue>> map;  // keys in file order; last one wins on lookup
  std::vector<ConfValue> array;
  SourcePos pos;      // where the value starts
  SourcePos key_pos;  // where its key starts, for values in a map
  bool referenced_as_variable = false;  // a top-level key used as $VAR is not an unknown option

  [[nodiscard]] const ConfValue* find(std::string_view key) const;
  [[nodiscard]] std::string_view type_name() const;
};

struct ConfError {
  std::string message;  // already carries "file:line:column: "
};

// Parses text; `file_name` is used in error positions and to resolve `include` paths.
[[nodiscard]] std::expected<ConfValue, ConfError> parse_config(std::string_view text, const std::string& file_name);
[[nodiscard]] std::expected<ConfValue, ConfError> parse_config_file(const std::string& path);

}  // namespace forest::config

// The Go encoder's fixtures (tests/data/go-forest, found through FOREST_TEST_DATA) and a
// decode-then-encode by envelope type, shared by the app-core tests.
#pragma once

#include <cstdlib>
#include <expected>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "app/core/compost.hpp"
#include "app/core/leaf.hpp"
#include "app/core/river_data.hpp"

namespace forest::app::test {

inline std::filesystem::path fixture_dir() {
  const char* d = std::getenv("FOREST_TEST_DATA");
  return std::filesystem::path(d != nullptr ? d : "tests/data") / "go-forest";
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string fixture(std::string_view name) { return read_file(fixture_dir() / std::string(name)); }

// File names in the fixture directory ending in `suffix`, sorted.
inline std::vector<std::string> fixture_names(std::string_view suffix) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(fixture_dir())) {
    const std::string n = e.path().filename().string();
    if (n.size() > suffix.size() && n.ends_with(suffix)) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

enum class Kind { leaf, river, compost };

// The envelope a fixture holds, from its name ("leaf-…", "decode-river-…", …).
inline Kind kind_of(std::string_view name) {
  if (name.starts_with("decode-")) name.remove_prefix(7);
  if (name.starts_with("leaf-")) return Kind::leaf;
  if (name.starts_with("river-")) return Kind::river;
  return Kind::compost;
}

// Decodes `json` as `kind` and encodes the result again.
inline std::expected<std::string, Error> reencode(Kind kind, std::string_view json) {
  switch (kind) {
    case Kind::leaf: {
      auto v = decode_leaf(json);
      if (!v) return std::unexpected(v.error());
      return encode_leaf(*v);
    }
    case Kind::river: {
      auto v = decode_river_data(json);
      if (!v) return std::unexpected(v.error());
      return encode_river_data(*v);
    }
    case Kind::compost: {
      auto v = decode_compost(json);
      if (!v) return std::unexpected(v.error());
      return encode_compost(*v);
    }
  }
  return std::unexpected(Error{Errc::syntax, "unreachable"});
}

}  // namespace forest::app::test

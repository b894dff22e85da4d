// Discovery's readers: node-info and registry against a corpus of good and broken files
// (tests/data/discovery/*/bad/NAME.json with NAME.expect = "line:column: text"), every
// truncation of a good file (a half-written registry), single-byte corruptions checked
// against simdjson, and the writer's bytes against the Go app's format.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <vector>

#include "discovery/json_scan.hpp"
#include "discovery/node_info.hpp"
#include "discovery/registry.hpp"
#include "test_discovery_support.hpp"

using namespace forest::discovery;
using discovery_test::data_dir;
using discovery_test::read_text;
namespace fs = std::filesystem;

namespace {

struct Expectation {
  std::size_t line = 0;
  std::size_t column = 0;
  std::string text;
};

Expectation read_expectation(const fs::path& json) {
  fs::path p = json;
  p.replace_extension(".expect");
  std::string s = read_text(p.string());
  while (!s.empty() && s.back() == '\n') s.pop_back();
  Expectation e;
  const auto c1 = s.find(':');
  const auto c2 = s.find(':', c1 + 1);
  REQUIRE(c1 != std::string::npos);
  REQUIRE(c2 != std::string::npos);
  e.line = std::stoul(s.substr(0, c1));
  e.column = std::stoul(s.substr(c1 + 1, c2 - c1 - 1));
  e.text = s.substr(c2 + 2);
  return e;
}

std::vector<fs::path> json_files(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_error(const Error& e, const fs::path& file) {
  const Expectation want = read_expectation(file);
  INFO(file.filename().string() << " -> " << e.to_string());
  CHECK(e.file == file.string());
  CHECK(e.line == want.line);
  CHECK(e.column == want.column);
  CHECK(e.message.find(want.text) != std::string::npos);
  CHECK(e.to_string().starts_with(file.string() + ":" + std::to_string(want.line) + ":"));
}

NodeInfo good_node_info(const std::string& name) {
  auto r = load_node_info(data_dir() + "/node-info/good/" + name);
  INFO((r ? std::string() : r.error().to_string()));
  REQUIRE(r);
  REQUIRE(r->has_value());
  return **r;
}

Registry good_registry(const std::string& name) {
  auto r = load_registry(data_dir() + "/registry/good/" + name);
  INFO((r ? std::string() : r.error().to_string()));
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("node-info: good files", "[discovery]") {
  CHECK(good_node_info("seed.json") == NodeInfo{"forest-123", "node-1"});
  // morpheus adds node_index, cluster_size, provisioner: ignored.
  CHECK(good_node_info("morpheus.json") == NodeInfo{"forest-123", "node-2"});
  // Like Go: case-insensitive keys, last duplicate wins.
  CHECK(good_node_info("case-and-duplicates.json") == NodeInfo{"forest-123", "node-3"});
}

TEST_CASE("node-info: no file means standalone, not an error", "[discovery]") {
  discovery_test::TempDir dir;
  auto r = load_node_info(dir.file("node-info.json"));
  REQUIRE(r);
  CHECK_FALSE(r->has_value());
  // A missing directory on the way is the same thing.
  auto r2 = load_node_info(dir.file("no/such/dir/node-info.json"));
  REQUIRE(r2);
  CHECK_FALSE(r2->has_value());
}

TEST_CASE("node-info: a directory or unreadable path is an error, not standalone", "[discovery]") {
  discovery_test::TempDir dir;
  auto r = load_node_info(dir.path().string());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::io);
  CHECK(r.error().file == dir.path().string());
}

TEST_CASE("node-info: broken files name the file and the position", "[discovery]") {
  const auto files = json_files(data_dir() + "/node-info/bad");
  REQUIRE(files.size() >= 10);
  for (const auto& file : files) {
    auto r = load_node_info(file.string());
    INFO(file.filename().string());
    REQUIRE_FALSE(r);
    check_error(r.error(), file);
  }
}

TEST_CASE("registry: the seed's example", "[discovery]") {
  const Registry reg = good_registry("seed.json");
  REQUIRE(reg.forests.size() == 1);
  const auto& nodes = reg.nodes_of("forest-123");
  REQUIRE(nodes.size() == 3);
  CHECK(nodes[0].id == "node-1");
  CHECK(nodes[0].ip == "2a01:4f8:x:x::1");
  CHECK(nodes[2].forest_id == "forest-123");
  CHECK(nodes[1].preferred_address() == "2a01:4f8:x:x::2");
  CHECK(reg.nodes_of("no-such-forest").empty());
}

TEST_CASE("registry: several forests, optional ipv6/ipv4, nulls, unknown keys", "[discovery]") {
  const Registry several = good_registry("several-forests.json");
  CHECK(several.forests.size() == 3);
  CHECK(several.nodes_of("forest-a").size() == 2);
  CHECK(several.nodes_of("forest-b").at(0).ip == "2001:db8:b::1");
  CHECK(several.nodes_of("forest-c").empty());

  const Registry both = good_registry("ipv6-and-ipv4.json");
  const auto& n = both.nodes_of("forest-123");
  REQUIRE(n.size() == 3);
  CHECK(n[0].preferred_address() == "2001:db8::1");  // ipv6 first
  CHECK(n[0].ipv4 == "192.0.2.1");
  CHECK(n[2].preferred_address() == "2001:db8::3");  // only the legacy ip

  const Registry v4 = good_registry("ipv4-only.json");
  CHECK(v4.nodes_of("forest-123").at(1).preferred_address() == "192.0.2.2");

  const Registry nulls = good_registry("nulls.json");
  CHECK(nulls.nodes_of("forest-x").empty());
  CHECK(nulls.nodes_of("forest-123").at(0).ipv6.empty());

  const Registry unknown = good_registry("unknown-keys.json");
  const auto& u = unknown.nodes_of("forest-123").at(0);
  CHECK(u.ip == "10.0.0.1");
  REQUIRE(u.extra.size() == 3);
  CHECK(u.extra[0] == std::pair<std::string, std::string>("zone", "\"fsn1\""));
  CHECK(u.extra[1].second == "{\"role\":\"seed\"}");
  REQUIRE(unknown.extra.size() == 2);
  CHECK(unknown.extra[0].first == "version");

  const Registry folded = good_registry("case-insensitive.json");
  CHECK(folded.nodes_of("forest-123").at(0).ipv6 == "2001:db8::1");
}

TEST_CASE("registry: empty forms are an empty registry", "[discovery]") {
  for (const char* name : {"empty-nodes.json", "no-nodes-key.json", "null-nodes.json"}) {
    INFO(name);
    CHECK(good_registry(name).forests.empty());
  }
  discovery_test::TempDir dir;
  auto missing = load_registry(dir.file("registry.json"));
  REQUIRE(missing);
  CHECK(missing->forests.empty());
}

TEST_CASE("registry: broken files name the file and the position", "[discovery]") {
  const auto files = json_files(data_dir() + "/registry/bad");
  REQUIRE(files.size() >= 10);
  for (const auto& file : files) {
    auto r = load_registry(file.string());
    INFO(file.filename().string());
    REQUIRE_FALSE(r);
    check_error(r.error(), file);
  }
}

TEST_CASE("registry: every truncation of a good file is a positioned syntax error", "[discovery]") {
  // A reader can catch the Go app half-way through rewriting the file in place, at any byte.
  for (const char* name : {"go-written.json", "seed.json", "unknown-keys.json"}) {
    const std::string full = read_text(data_dir() + "/registry/good/" + name);
    std::size_t end = full.size();
    while (end > 0 && (full[end - 1] == '\n' || full[end - 1] == ' ')) --end;  // trailing blanks: still whole
    for (std::size_t len = 0; len < end; ++len) {
      const std::string part = full.substr(0, len);
      auto r = parse_registry(part, "registry.json");
      INFO(name << " cut at " << len << ": " << (r ? std::string("parsed") : r.error().to_string()));
      REQUIRE_FALSE(r);
      CHECK(r.error().code == Errc::syntax);
      // The scanner found it (not simdjson's position-less fallback), at or before the cut.
      CHECK_FALSE(r.error().message.starts_with("invalid JSON:"));
      const TextPosition eof = position_at(part, part.size());
      CHECK((r.error().line < eof.line || (r.error().line == eof.line && r.error().column <= eof.column)));
    }
  }
}

TEST_CASE("registry: the scanner agrees with simdjson on single-byte corruptions", "[discovery]") {
  // On the error path the scanner must find what simdjson refused; otherwise a human gets no
  // position. Replace each byte with characters that break JSON in different ways.
  const std::string full = read_text(data_dir() + "/registry/good/go-written.json");
  const std::string replacements("\"{}[],: x0\x01\x7f", 13);
  std::size_t errors = 0;
  for (std::size_t i = 0; i < full.size(); ++i) {
    for (char c : replacements + std::string("\xff\xc3", 2)) {
      std::string text = full;
      text[i] = c;
      auto r = parse_registry(text, "registry.json");
      if (r) continue;
      ++errors;
      INFO("byte " << i << " -> " << static_cast<int>(static_cast<unsigned char>(c)) << ": " << r.error().to_string());
      REQUIRE(r.error().line >= 1);
      if (r.error().code == Errc::syntax) CHECK_FALSE(r.error().message.starts_with("invalid JSON:"));
    }
  }
  CHECK(errors > full.size());  // the corruptions did break things, so the loop checked something
}

TEST_CASE("json scanner: positions count lines and code points", "[discovery]") {
  const std::string text = "{\n  \"a\": \"\xc3\xa9\xc3\xa9\" x";
  const TextPosition end = position_at(text, text.size());
  CHECK(end.line == 2);
  CHECK(end.column == 14);
  auto err = find_syntax_error(text);
  REQUIRE(err);
  CHECK(position_at(text, err->offset).column == 13);
  CHECK_FALSE(find_syntax_error("{\"a\": [1, -2.5e3, true, false, null, \"\\u00e9\\n\"]}"));
  const std::size_t path[] = {0, 2};
  const auto at = find_value_offset("{\"a\": [1, 2, {\"b\": 3}]}", path);
  REQUIRE(at);
  CHECK(*at == 13);
  CHECK(find_syntax_error(std::string(2000, '[')));  // deeper than simdjson allows
}

TEST_CASE("registry: writing matches the Go app's bytes and round-trips", "[discovery]") {
  const std::string go = read_text(data_dir() + "/registry/good/go-written.json");
  auto reg = parse_registry(go, "go-written.json");
  REQUIRE(reg);
  CHECK(format_registry(*reg) == go);
  // The seed's hand-written layout comes back in Go's layout, with the same content.
  const Registry seed = good_registry("seed.json");
  auto again = parse_registry(format_registry(seed), "formatted");
  REQUIRE(again);
  CHECK(*again == seed);
  // Unknown keys survive a rewrite.
  const Registry unknown = good_registry("unknown-keys.json");
  auto kept = parse_registry(format_registry(unknown), "formatted");
  REQUIRE(kept);
  CHECK(*kept == unknown);
  CHECK(format_registry(Registry{}) == "{\n  \"nodes\": {}\n}");
}

TEST_CASE("registry: strings are escaped as Go escapes them", "[discovery]") {
  Registry reg;
  RegistryNode n;
  n.id = "a\"b\\c\n<&>\x01\xe2\x80\xa8\xff";
  n.ip = "10.0.0.1";
  n.forest_id = "f";
  reg.forests["f"].push_back(n);
  const std::string text = format_registry(reg);
  CHECK(text.find(R"("id": "a\"b\\c\n\u003c\u0026\u003e\u0001\u2028\ufffd")") != std::string::npos);
  auto back = parse_registry(text, "escaped");
  REQUIRE(back);
  CHECK(back->nodes_of("f").at(0).id == "a\"b\\c\n<&>\x01\xe2\x80\xa8\xef\xbf\xbd");
}

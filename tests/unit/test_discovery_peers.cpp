// Peer selection (self excluded by node id and by any local address), route URL formatting,
// address normalization, path resolution (flags, environment, defaults) and the startup view.
#include <catch2/catch.hpp>

#include "discovery/addresses.hpp"
#include "discovery/discovery.hpp"
#include "discovery/paths.hpp"
#include "discovery/peers.hpp"
#include "test_discovery_support.hpp"

using namespace forest::discovery;
using discovery_test::data_dir;
using discovery_test::EnvGuard;
using discovery_test::TempDir;
using discovery_test::write_text;

namespace {

Registry registry_file(const std::string& name) {
  auto r = load_registry(data_dir() + "/registry/good/" + name);
  REQUIRE(r);
  return *r;
}

std::vector<std::string> urls(const Registry& reg, const NodeInfo& self, const LocalAddresses& local = {},
                              PeerOptions options = {}) {
  return peer_urls(select_peers(reg, self, local, options));
}

RegistryNode node(std::string id, std::string ip, std::string ipv6 = "", std::string ipv4 = "") {
  return RegistryNode{std::move(id), std::move(ip), std::move(ipv6), std::move(ipv4), "f", {}};
}

using Urls = std::vector<std::string>;

}  // namespace

TEST_CASE("route URLs: brackets for IPv6, canonical addresses, configurable port", "[discovery]") {
  CHECK(route_url("2a01:4f8::1") == "nats://[2a01:4f8::1]:6222");
  CHECK(route_url("[2a01:4f8::1]") == "nats://[2a01:4f8::1]:6222");
  CHECK(route_url("2A01:04F8:0:0::1") == "nats://[2a01:4f8::1]:6222");
  CHECK(route_url("::ffff:192.0.2.7") == "nats://192.0.2.7:6222");
  CHECK(route_url("192.0.2.7") == "nats://192.0.2.7:6222");
  CHECK(route_url("192.0.2.7", 16222) == "nats://192.0.2.7:16222");
  CHECK(route_url("node-1.forest.example") == "nats://node-1.forest.example:6222");
  CHECK(route_url(" 10.0.0.1 ") == "nats://10.0.0.1:6222");
}

TEST_CASE("addresses: normalization and validation", "[discovery]") {
  CHECK(normalize_address("2001:DB8:0:0:0:0:0:1") == "2001:db8::1");
  CHECK(normalize_address("[::1]") == "::1");
  CHECK(normalize_address("010.0.0.1") == "010.0.0.1");  // not an IPv4 address to inet_pton: left alone
  CHECK(normalize_address("host.example") == "host.example");
  CHECK(is_ip_address("2001:db8::1"));
  CHECK(is_ip_address("192.0.2.1"));
  CHECK_FALSE(is_ip_address("192.0.2.1:6222"));
  CHECK_FALSE(is_ip_address(""));
  const LocalAddresses local{"2001:0db8::0001", "127.0.0.1"};
  CHECK(local.contains("2001:db8::1"));
  CHECK(local.contains("[2001:db8::1]"));
  CHECK_FALSE(local.contains(""));
  CHECK_FALSE(local.contains("2001:db8::2"));
}

TEST_CASE("addresses: this machine's interfaces include loopback", "[discovery]") {
  auto local = system_local_addresses();
  REQUIRE(local);
  CHECK((local->contains("127.0.0.1") || local->contains("::1")));
}

TEST_CASE("peers: the seed's scenario, self excluded by node id", "[discovery]") {
  const Registry seed = registry_file("seed.json");
  CHECK(urls(seed, {"forest-123", "node-1"}) == Urls{"nats://[2a01:4f8:x:x::2]:6222", "nats://[2a01:4f8:x:x::3]:6222"});
  CHECK(urls(seed, {"forest-123", "node-3"}) == Urls{"nats://[2a01:4f8:x:x::1]:6222", "nats://[2a01:4f8:x:x::2]:6222"});
  // Node 1 alone: the registry lists only itself.
  CHECK(urls(registry_file("self-only.json"), {"forest-123", "node-1"}).empty());
  // A node of another forest sees none of these.
  CHECK(urls(seed, {"forest-999", "node-1"}).empty());
  const auto peers = select_peers(seed, {"forest-123", "node-2"}, {});
  REQUIRE(peers.size() == 2);
  CHECK(peers[0].node_id == "node-1");
}

TEST_CASE("peers: self excluded by any local address, in any spelling", "[discovery]") {
  const Registry reg = registry_file("ipv6-and-ipv4.json");
  // This machine was re-provisioned under a new id but kept node-2's addresses.
  const NodeInfo self{"forest-123", "node-new"};
  CHECK(urls(reg, self, LocalAddresses{"2001:db8::2"}) ==
        Urls{"nats://[2001:db8::1]:6222", "nats://[2001:db8::3]:6222"});
  // Matching the ipv4 or legacy ip field is enough, even when ipv6 is the preferred one.
  CHECK(urls(reg, self, LocalAddresses{"192.0.2.1"}) ==
        Urls{"nats://[2001:db8::2]:6222", "nats://[2001:db8::3]:6222"});
  // No local match and an unknown id: everyone is a peer.
  CHECK(urls(reg, self, LocalAddresses{"127.0.0.1", "::1"}).size() == 3);
}

TEST_CASE("peers: IPv4-only and IPv6 preference", "[discovery]") {
  CHECK(urls(registry_file("ipv4-only.json"), {"forest-123", "node-1"}) == Urls{"nats://192.0.2.2:6222"});
  Registry reg;
  reg.forests["f"] = {node("a", "192.0.2.1", "2001:db8::a", "192.0.2.1"), node("b", "192.0.2.2", "", "192.0.2.20"),
                      node("c", "2001:db8::c")};
  CHECK(urls(reg, {"f", "self"}) ==
        Urls{"nats://[2001:db8::a]:6222", "nats://192.0.2.20:6222", "nats://[2001:db8::c]:6222"});
}

TEST_CASE("peers: duplicates removed in stable order, addressless nodes skipped, port applied", "[discovery]") {
  Registry reg;
  reg.forests["f"] = {node("a", "10.0.0.2"), node("b", "10.0.0.1"), node("a-again", "10.0.0.2"),
                      node("no-address", ""), node("b-spelled-differently", "::ffff:10.0.0.1"), node("c", "10.0.0.3")};
  CHECK(urls(reg, {"f", "self"}, {}, PeerOptions{7222}) ==
        Urls{"nats://10.0.0.2:7222", "nats://10.0.0.1:7222", "nats://10.0.0.3:7222"});
  const Registry several = registry_file("several-forests.json");
  CHECK(urls(several, {"forest-a", "a-1"}) == Urls{"nats://10.1.0.2:6222"});
  CHECK(urls(several, {"forest-b", "x"}) == Urls{"nats://[2001:db8:b::1]:6222"});
  CHECK(urls(several, {"forest-c", "x"}).empty());
}

TEST_CASE("paths: explicit, then environment, then defaults", "[discovery]") {
  TempDir dir;
  const PathDefaults defaults{{dir.file("nimsforest.json"), dir.file("morpheus.json")}, dir.file("registry.json")};
  EnvGuard no_node_env(kNodeInfoEnv, std::nullopt);
  EnvGuard no_reg_env(kRegistryEnv, std::nullopt);

  SECTION("no default node-info exists: the first, whose absence means standalone") {
    const Paths p = resolve_paths({}, defaults);
    CHECK(p.node_info == dir.file("nimsforest.json"));
    CHECK(p.node_info_source == PathSource::default_path);
    CHECK(p.registry == dir.file("registry.json"));
  }
  SECTION("only the seed's /etc/morpheus path exists") {
    write_text(dir.file("morpheus.json"), "{}");
    CHECK(resolve_paths({}, defaults).node_info == dir.file("morpheus.json"));
    write_text(dir.file("nimsforest.json"), "{}");
    CHECK(resolve_paths({}, defaults).node_info == dir.file("nimsforest.json"));
  }
  SECTION("the environment overrides the defaults; empty counts as unset") {
    EnvGuard node_env(kNodeInfoEnv, std::string("/env/node-info.json"));
    EnvGuard reg_env(kRegistryEnv, std::string(""));
    const Paths p = resolve_paths({}, defaults);
    CHECK(p.node_info == "/env/node-info.json");
    CHECK(p.node_info_source == PathSource::environment);
    CHECK(p.registry == dir.file("registry.json"));
    CHECK(p.registry_source == PathSource::default_path);
  }
  SECTION("explicit paths override the environment") {
    EnvGuard node_env(kNodeInfoEnv, std::string("/env/node-info.json"));
    EnvGuard reg_env(kRegistryEnv, std::string("/env/registry.json"));
    CHECK(resolve_paths({}, defaults).registry == "/env/registry.json");
    const Paths p = resolve_paths(PathOverrides{"/flag/node-info.json", "/flag/registry.json"}, defaults);
    CHECK(p.node_info == "/flag/node-info.json");
    CHECK(p.registry == "/flag/registry.json");
    CHECK(p.registry_source == PathSource::explicit_path);
    CHECK(to_string(p.registry_source) == "explicit");
  }
  SECTION("the built-in defaults are the Go app's and the seed's") {
    const PathDefaults builtin;
    CHECK(builtin.node_info == std::vector<std::string>{"/etc/nimsforest/node-info.json", "/etc/morpheus/node-info.json"});
    CHECK(builtin.registry == "/mnt/forest/registry.json");
  }
}

TEST_CASE("discover: standalone, first node, joining node, broken files", "[discovery]") {
  TempDir dir;
  const Paths paths{dir.file("node-info.json"), dir.file("registry.json")};
  SECTION("no node-info: standalone, and the registry is not even read") {
    write_text(paths.registry, "garbage");
    auto v = discover(paths, {});
    REQUIRE(v);
    CHECK_FALSE(v->self);
    CHECK(v->peers.empty());
  }
  SECTION("node-info and no registry: the first node of an empty forest") {
    write_text(paths.node_info, R"({"forest_id": "f", "node_id": "n1"})");
    auto v = discover(paths, {});
    REQUIRE(v);
    REQUIRE(v->self);
    CHECK(v->self->node_id == "n1");
    CHECK(v->peers.empty());
  }
  SECTION("a joining node gets its peers") {
    write_text(paths.node_info, R"({"forest_id": "f", "node_id": "n2"})");
    write_text(paths.registry, R"({"nodes": {"f": [{"id": "n1", "ip": "10.0.0.1", "forest_id": "f"},
                                                   {"id": "n2", "ip": "10.0.0.2", "forest_id": "f"}]}})");
    auto v = discover(paths, {}, PeerOptions{16222});
    REQUIRE(v);
    CHECK(peer_urls(v->peers) == Urls{"nats://10.0.0.1:16222"});
  }
  SECTION("a malformed registry is a startup error with its position") {
    write_text(paths.node_info, R"({"forest_id": "f", "node_id": "n2"})");
    write_text(paths.registry, "{\"nodes\": {\"f\": [\n");
    auto v = discover(paths, {});
    REQUIRE_FALSE(v);
    CHECK(v.error().file == paths.registry);
    CHECK(v.error().line == 2);
  }
  SECTION("a malformed node-info is a startup error too") {
    write_text(paths.node_info, R"({"forest_id": "f"})");
    auto v = discover(paths, {});
    REQUIRE_FALSE(v);
    CHECK(v.error().file == paths.node_info);
    CHECK(v.error().code == Errc::schema);
  }
}

// Catch2 checks shared by the cluster test files (header-only: they need Catch's macros).
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "cluster_support.hpp"

namespace forest::testing {

inline constexpr auto kMeshTimeout = std::chrono::seconds(20);

// Waits for a full mesh; on failure says which node lacked what.
inline void require_mesh(const std::vector<Node*>& nodes) {
  std::string why;
  const bool ok = wait_mesh(nodes, kMeshTimeout, &why);
  INFO("mesh incomplete: " << why);
  REQUIRE(ok);
}

// Reads messages until one on `end_subject` arrives; returns those before it. The end marker
// is published after the messages under test, so on one route it comes after all of them:
// whatever was not there by then was never sent.
inline std::vector<Msg> read_until(Client& c, const std::string& end_subject,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::vector<Msg> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto m = left.count() > 0 ? c.next(left) : std::nullopt;
    if (!m) break;
    if (m->subject == end_subject) return out;
    out.push_back(std::move(*m));
  }
  FAIL("no " << end_subject << " within the deadline; " << out.size() << " messages came before");
  return out;
}

}  // namespace forest::testing

// The imports every account gets when there is a system account (broker/system_imports.hpp).
#include <catch2/catch.hpp>

#include <algorithm>

#include "system_imports.hpp"

using namespace forest::broker;

namespace {

const AccountConfig* find(const std::vector<AccountConfig>& all, const std::string& name) {
  auto it = std::find_if(all.begin(), all.end(), [&](const AccountConfig& a) { return a.name == name; });
  return it == all.end() ? nullptr : &*it;
}

const ServiceImport* import_to(const AccountConfig& a, const std::string& local) {
  for (const ServiceImport& i : a.service_imports) {
    if (i.to == local) return &i;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("system imports: none without a system account", "[system-imports]") {
  AccountConfig a;
  a.name = "A";
  const auto out = with_system_imports({a}, "", {"$G", "A"});
  REQUIRE(out.size() == 1);
  CHECK(out[0].service_imports.empty());
  CHECK(out[0].service_exports.empty());
}

TEST_CASE("system imports: every other account asks the system account about itself", "[system-imports]") {
  AccountConfig a;
  a.name = "A";
  // A already imports this subject from elsewhere: its own import stays, unchanged.
  a.service_imports.push_back(ServiceImport{"B", "mine", "$SYS.REQ.SERVER.PING.CONNZ", false});
  AccountConfig b;
  b.name = "B";
  ServiceExport mine;
  mine.subject = "mine";
  b.service_exports.push_back(mine);
  const auto out = with_system_imports({a, b}, "SYS", {"$G", "A", "B", "SYS"});

  const AccountConfig* sys = find(out, "SYS");  // made: the configuration did not list it
  REQUIRE(sys != nullptr);
  CHECK(sys->service_imports.empty());
  REQUIRE(sys->service_exports.size() == 2);
  CHECK(sys->service_exports[0].subject == "$SYS.REQ.ACCOUNT.*.CONNZ");
  CHECK(sys->service_exports[1].subject == "$SYS.REQ.ACCOUNT.*.STATZ");
  for (const ServiceExport& e : sys->service_exports) {
    CHECK(e.response_type == ResponseType::stream);  // every server of a cluster answers
    CHECK(e.accounts.empty());
    CHECK(e.account_token_position == 4);
  }

  const AccountConfig* g = find(out, "$G");
  REQUIRE(g != nullptr);
  REQUIRE(g->service_imports.size() == 3);
  const ServiceImport* connz = import_to(*g, "$SYS.REQ.SERVER.PING.CONNZ");
  REQUIRE(connz != nullptr);
  CHECK(connz->account == "SYS");
  CHECK(connz->subject == "$SYS.REQ.ACCOUNT.$G.CONNZ");
  REQUIRE(import_to(*g, "$SYS.REQ.ACCOUNT.PING.CONNZ") != nullptr);
  CHECK(import_to(*g, "$SYS.REQ.ACCOUNT.PING.CONNZ")->subject == "$SYS.REQ.ACCOUNT.$G.CONNZ");
  REQUIRE(import_to(*g, "$SYS.REQ.ACCOUNT.PING.STATZ") != nullptr);
  CHECK(import_to(*g, "$SYS.REQ.ACCOUNT.PING.STATZ")->subject == "$SYS.REQ.ACCOUNT.$G.STATZ");

  const AccountConfig* out_a = find(out, "A");
  REQUIRE(out_a != nullptr);
  REQUIRE(out_a->service_imports.size() == 3);
  CHECK(import_to(*out_a, "$SYS.REQ.SERVER.PING.CONNZ")->account == "B");
  CHECK(import_to(*out_a, "$SYS.REQ.ACCOUNT.PING.STATZ")->subject == "$SYS.REQ.ACCOUNT.A.STATZ");
  const AccountConfig* out_b = find(out, "B");
  REQUIRE(out_b != nullptr);
  CHECK(out_b->service_exports.size() == 1);
  CHECK(out_b->service_imports.size() == 3);

  // An export of the system account's own that covers these already is the one that counts.
  AccountConfig own;
  own.name = "SYS";
  ServiceExport wide;
  wide.subject = "$SYS.REQ.ACCOUNT.>";
  own.service_exports.push_back(wide);
  const auto covered = with_system_imports({own}, "SYS", {"$G", "SYS"});
  REQUIRE(find(covered, "SYS")->service_exports.size() == 1);
  CHECK(find(covered, "$G")->service_imports.size() == 3);

  // Applied again (a reload), nothing doubles.
  const auto again = with_system_imports(out, "SYS", {"$G", "A", "B", "SYS"});
  CHECK(find(again, "SYS")->service_exports.size() == 2);
  CHECK(find(again, "$G")->service_imports.size() == 3);
}

// verify_and_map's pieces without a handshake: go-ldap's DN parser and the order in which
// nats-server 2.9 tries a certificate's names against the configured users.
#include <catch2/catch.hpp>

#include "cert_identity.hpp"
#include "options.hpp"

using namespace forest::broker;

namespace {

User user(const std::string& name) {
  User u;
  u.username = name;
  return u;
}

}  // namespace

TEST_CASE("parse_dn reads RFC 4514 names as go-ldap does", "[tls][map]") {
  auto dn = parse_dn("CN=carol, OU=Eng+OU=Ops,O=Acme\\, Inc.,C=US");
  REQUIRE(dn);
  REQUIRE(dn->size() == 4);
  CHECK((*dn)[0][0].type == "CN");
  CHECK((*dn)[0][0].value == "carol");
  REQUIRE((*dn)[1].size() == 2);
  CHECK((*dn)[1][1].value == "Ops");
  CHECK((*dn)[2][0].value == "Acme, Inc.");
  CHECK(parse_dn("CN=a\\2cb")->at(0)[0].value == "a,b");
  CHECK_FALSE(parse_dn("alice"));
  CHECK_FALSE(parse_dn("alice@example.com"));
  CHECK_FALSE(parse_dn("CN=#0403"));
}

TEST_CASE("map_certificate_to_user: emails, then DNS names, then URIs, then the subject", "[tls][map]") {
  const std::vector<User> users = {user("bob.example.com"), user("alice@example.com"), user("O=Acme,CN=carol"),
                                   user("CN=dan,DC=org,DC=example"), user("CN=erin,O=Acme")};
  CertIdentity id;
  id.has_subject = true;
  id.emails = {"nobody@example.com", "alice@example.com"};
  id.dns_names = {"bob.example.com"};
  auto m = map_certificate_to_user(id, users);
  REQUIRE(m.user != nullptr);
  CHECK(m.user->username == "alice@example.com");  // emails first, whatever the users' order
  CHECK(m.how == "email");

  id.emails.clear();
  CHECK(map_certificate_to_user(id, users).user->username == "bob.example.com");

  // The subject as a DN: RDNs in another order still match (types case-insensitively).
  CertIdentity carol;
  carol.has_subject = true;
  carol.dn = Dn{{{"CN", "carol"}}, {{"O", "Acme"}}};
  carol.rdn_string = "CN=carol,O=Acme";
  m = map_certificate_to_user(carol, users);
  REQUIRE(m.user != nullptr);
  CHECK(m.user->username == "O=Acme,CN=carol");
  CHECK(m.how == "DistinguishedNameMatch");
  // Values are compared exactly.
  carol.dn = Dn{{{"cn", "Carol"}}, {{"o", "Acme"}}};
  carol.rdn_string = "CN=Carol,O=Acme";
  CHECK(map_certificate_to_user(carol, users).user == nullptr);

  // No DN (an attribute go-ldap does not know): Go's string with the domain components.
  CertIdentity dan;
  dan.has_subject = true;
  dan.rdn_string = "CN=dan";
  dan.rdn_with_dcs = "CN=dan,DC=org,DC=example";
  m = map_certificate_to_user(dan, users);
  REQUIRE(m.user != nullptr);
  CHECK(m.how == "RDNSequence");

  CertIdentity erin;
  erin.has_subject = true;
  erin.rdn_string = "CN=erin,O=Acme";
  m = map_certificate_to_user(erin, users);
  REQUIRE(m.user != nullptr);
  CHECK(m.how == "certificate subject");

  // Nothing to go by.
  CHECK(map_certificate_to_user(CertIdentity{}, users).user == nullptr);
  // nkey users never match by name.
  User nk;
  nk.nkey = "UABC";
  CertIdentity blank;
  blank.has_subject = true;
  CHECK(map_certificate_to_user(blank, {nk}).user == nullptr);
}

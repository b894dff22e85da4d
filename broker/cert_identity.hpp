// What a peer's certificate says about who it is, for `verify_and_map` (a client certificate
// names its user) and `pinned_certs` (the SHA-256 of its public key). Made once per connection
// after the TLS handshake, on that connection's thread; immutable afterwards (shared with the
// auth pool and reloads).
//
// The mapping follows nats-server 2.9 (auth.go, checkClientTLSCertSubject): the email SANs, then
// the DNS SANs, then the URI SANs, each as a user name; then the subject as a distinguished name
// compared with every user name that parses as one (same order first, then any order of RDNs);
// then Go's string form of the subject (pkix RDNSequence: fixed attribute order, last first),
// with the domain components appended when there are any, then without them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"

struct x509_st;  // OpenSSL's X509

namespace forest::broker {

struct DnAttribute {
  std::string type;  // "CN", "OU", "DC", ... as written (compared case-insensitively)
  std::string value;
};
using DnRdn = std::vector<DnAttribute>;  // one relative distinguished name (a multi-valued one has several)
using Dn = std::vector<DnRdn>;           // most specific first, as written: "CN=a,O=b"

struct CertIdentity {
  std::vector<std::string> emails, dns_names, uris;  // subject alternative names
  bool has_subject = false;
  // The subject as go-ldap reads a certificate's (last RDN first); none when it holds an
  // attribute type go-ldap does not know (emailAddress, for one), as nats-server then skips it.
  std::optional<Dn> dn;
  std::string rdn_string;    // Go's Subject.ToRDNSequence().String()
  std::string rdn_with_dcs;  // rdn_string + ",DC=..." when the subject has domain components, else empty
  std::string spki_sha256;   // hex SHA-256 of the DER SubjectPublicKeyInfo (pinned_certs)
};

// The identity of a certificate; none if it cannot be read.
[[nodiscard]] std::optional<CertIdentity> cert_identity(x509_st* cert);

// go-ldap's ParseDN (RFC 4514): "CN=alice,O=Acme" -> {{CN alice}}, {{O Acme}}; none when the text
// is not a DN (a plain user name).
[[nodiscard]] std::optional<Dn> parse_dn(std::string_view text);

// The user a certificate maps to under verify_and_map (nkey users never match), and which of
// its names matched (for the debug log); null when none does.
struct CertMatch {
  const User* user = nullptr;
  std::string how;  // "email", "SAN", "URI", "DistinguishedNameMatch", "RDNSequence", "certificate subject"
};
[[nodiscard]] CertMatch map_certificate_to_user(const CertIdentity& id, const std::vector<User>& users);

}  // namespace forest::broker

// A certificate's names for verify_and_map and its key's hash for pinned_certs; the mapping
// to a user as nats-server 2.9 does it. See cert_identity.hpp.
#include "cert_identity.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace forest::broker {
namespace {

// The attribute types go-ldap knows in a certificate (and Go's pkix names, which are the same
// minus DC).
std::string_view ldap_type_name(int nid) {
  switch (nid) {
    case NID_commonName: return "CN";
    case NID_serialNumber: return "SERIALNUMBER";
    case NID_countryName: return "C";
    case NID_localityName: return "L";
    case NID_stateOrProvinceName: return "ST";
    case NID_streetAddress: return "STREET";
    case NID_organizationName: return "O";
    case NID_organizationalUnitName: return "OU";
    case NID_postalCode: return "POSTALCODE";
    case NID_domainComponent: return "DC";
    default: return {};
  }
}

// An attribute's value as Go's asn1 decodes it into a string (the string types); none for
// anything else (Go skips those).
std::optional<std::string> string_value(const ASN1_STRING* s) {
  switch (ASN1_STRING_type(s)) {
    case V_ASN1_UTF8STRING:
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_T61STRING:
    case V_ASN1_NUMERICSTRING:
    case V_ASN1_BMPSTRING: break;
    default: return std::nullopt;
  }
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return std::nullopt;
  std::string value(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return value;
}

// Go's escaping of a value in RDNSequence.String().
std::string go_escape(std::string_view v) {
  std::string out;
  for (std::size_t k = 0; k < v.size(); ++k) {
    const char c = v[k];
    bool escape = false;
    switch (c) {
      case ',': case '+': case '"': case '\\': case '<': case '>': case ';': escape = true; break;
      case ' ': escape = k == 0 || k == v.size() - 1; break;
      case '#': escape = k == 0; break;
      default: break;
    }
    if (escape) out += '\\';
    out += c;
  }
  return out;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool same_attribute(const DnAttribute& a, const DnAttribute& b) { return iequal(a.type, b.type) && a.value == b.value; }

// go-ldap's hasAllAttributes: every attribute of `attrs` is in `r`.
bool has_all(const DnRdn& r, const DnRdn& attrs) {
  return std::all_of(attrs.begin(), attrs.end(), [&](const DnAttribute& a) {
    return std::any_of(r.begin(), r.end(), [&](const DnAttribute& m) { return same_attribute(m, a); });
  });
}

bool rdn_equal(const DnRdn& a, const DnRdn& b) { return a.size() == b.size() && has_all(a, b) && has_all(b, a); }

// RFC 4517 distinguishedNameMatch: same RDNs in the same order.
bool dn_equal(const Dn& a, const Dn& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!rdn_equal(a[i], b[i])) return false;
  }
  return true;
}

// go-ldap's RDNsMatch: the same RDNs in any order.
bool dn_rdns_match(const Dn& a, const Dn& b) {
  if (a.size() != b.size()) return false;
  return std::all_of(a.begin(), a.end(), [&](const DnRdn& ir) {
    return std::any_of(b.begin(), b.end(), [&](const DnRdn& orr) { return has_all(ir, orr) && has_all(orr, ir); });
  });
}

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 0xf];
  }
  return out;
}

void read_alt_names(X509* cert, CertIdentity& id) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    const ASN1_IA5STRING* s = nullptr;
    std::vector<std::string>* into = nullptr;
    if (g->type == GEN_EMAIL) {
      s = g->d.rfc822Name, into = &id.emails;
    } else if (g->type == GEN_DNS) {
      s = g->d.dNSName, into = &id.dns_names;
    } else if (g->type == GEN_URI) {
      s = g->d.uniformResourceIdentifier, into = &id.uris;
    }
    if (into == nullptr || s == nullptr) continue;
    into->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
}

void read_subject(X509* cert, CertIdentity& id) {
  const X509_NAME* name = X509_get_subject_name(cert);
  if (name == nullptr) return;
  const int count = X509_NAME_entry_count(name);
  id.has_subject = count > 0;

  // The raw RDN sequence: entries with the same set index form one (multi-valued) RDN.
  struct Entry {
    int nid;
    std::optional<std::string> value;
  };
  std::vector<std::vector<Entry>> raw;
  int last_set = -1;
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int set = X509_NAME_ENTRY_set(e);
    if (raw.empty() || set != last_set) raw.emplace_back();
    last_set = set;
    raw.back().push_back({OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), string_value(X509_NAME_ENTRY_get_data(e))});
  }

  // go-ldap's FromRawCertSubject: RDNs and their attributes in reverse; any unknown type or
  // non-string value and there is no DN.
  Dn dn;
  bool dn_ok = true;
  for (auto r = raw.rbegin(); r != raw.rend() && dn_ok; ++r) {
    DnRdn rdn;
    for (auto a = r->rbegin(); a != r->rend(); ++a) {
      const std::string_view type = ldap_type_name(a->nid);
      if (type.empty() || !a->value) {
        dn_ok = false;
        break;
      }
      rdn.push_back({std::string(type), *a->value});
    }
    dn.push_back(std::move(rdn));
  }
  if (dn_ok) id.dn = std::move(dn);

  // Go's pkix.Name keeps the known attributes by kind (all values; the last CN and serial
  // number), and ToRDNSequence() writes them back in a fixed order, one RDN per kind; String()
  // writes that sequence last RDN first.
  const std::array<int, 9> order{NID_countryName, NID_stateOrProvinceName, NID_localityName, NID_streetAddress,
                                 NID_postalCode, NID_organizationName, NID_organizationalUnitName,
                                 NID_commonName, NID_serialNumber};
  std::vector<std::string> rdns;  // in ToRDNSequence order
  for (const int nid : order) {
    std::vector<std::string> values;
    for (const auto& r : raw) {
      for (const Entry& a : r) {
        if (a.nid != nid || !a.value) continue;
        if (nid == NID_commonName || nid == NID_serialNumber) values.clear();  // the last one wins
        values.push_back(*a.value);
      }
    }
    if (values.empty() || ((nid == NID_commonName || nid == NID_serialNumber) && values.front().empty())) continue;
    std::string s;
    for (const std::string& v : values) {
      if (!s.empty()) s += '+';
      s += std::string(ldap_type_name(nid)) + "=" + go_escape(v);
    }
    rdns.push_back(std::move(s));
  }
  for (auto r = rdns.rbegin(); r != rdns.rend(); ++r) {
    if (!id.rdn_string.empty()) id.rdn_string += ',';
    id.rdn_string += *r;
  }
  std::string dcs;
  for (const auto& r : raw) {
    for (const Entry& a : r) {
      if (a.nid != NID_domainComponent || !a.value) continue;
      if (!dcs.empty()) dcs += ',';
      dcs += "DC=" + *a.value;
    }
  }
  if (!dcs.empty()) id.rdn_with_dcs = id.rdn_string + "," + dcs;
}

}  // namespace

std::optional<CertIdentity> cert_identity(x509_st* cert) {
  if (cert == nullptr) return std::nullopt;
  CertIdentity id;
  read_alt_names(cert, id);
  read_subject(cert, id);
  unsigned char* der = nullptr;
  const int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (n <= 0) return std::nullopt;
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(n), md.data(), &md_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return std::nullopt;
  id.spki_sha256 = hex(md.data(), md_len);
  return id;
}

std::optional<Dn> parse_dn(std::string_view str) {
  Dn dn;
  DnRdn rdn;
  DnAttribute attr;
  std::string buffer;
  bool escaping = false;
  std::size_t trailing_spaces = 0;
  auto take = [&] {
    std::string s = buffer.substr(0, buffer.size() - trailing_spaces);
    buffer.clear();
    trailing_spaces = 0;
    return s;
  };
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < str.size(); ++i) {
    const char c = str[i];
    if (escaping) {
      trailing_spaces = 0;
      escaping = false;
      if (std::string_view(" \"#+,;<=>\\").find(c) != std::string_view::npos) {
        buffer += c;
        continue;
      }
      // An escaped octet in hex.
      if (i + 1 >= str.size()) return std::nullopt;
      const int hi = hex_value(c), lo = hex_value(str[i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      buffer += static_cast<char>(hi * 16 + lo);
      ++i;
    } else if (c == '\\') {
      trailing_spaces = 0;
      escaping = true;
    } else if (c == '=') {
      attr.type = take();
      if (i + 1 < str.size() && str[i + 1] == '#') return std::nullopt;  // BER values: not supported (as go-ldap)
    } else if (c == ',' || c == '+') {
      if (attr.type.empty()) return std::nullopt;
      attr.value = take();
      rdn.push_back(std::move(attr));
      attr = DnAttribute{};
      if (c == ',') {
        dn.push_back(std::move(rdn));
        rdn.clear();
      }
    } else if (c == ' ' && buffer.empty()) {
      continue;  // leading spaces
    } else {
      trailing_spaces = c == ' ' ? trailing_spaces + 1 : 0;
      buffer += c;
    }
  }
  if (!buffer.empty()) {
    if (attr.type.empty()) return std::nullopt;
    attr.value = take();
    rdn.push_back(std::move(attr));
    dn.push_back(std::move(rdn));
  }
  return dn;
}

CertMatch map_certificate_to_user(const CertIdentity& id, const std::vector<User>& users) {
  auto by_name = [&](std::string_view name) -> const User* {
    if (name.empty()) return nullptr;
    for (const User& u : users) {
      if (u.nkey.empty() && u.username == name) return &u;
    }
    return nullptr;
  };
  if (id.emails.empty() && !id.has_subject && id.uris.empty()) return {};
  for (const std::string& e : id.emails) {
    if (const User* u = by_name(e)) return {u, "email"};
  }
  for (const std::string& d : id.dns_names) {
    if (const User* u = by_name(d)) return {u, "SAN"};
  }
  for (const std::string& uri : id.uris) {
    if (const User* u = by_name(uri)) return {u, "URI"};
  }
  if (id.dn) {
    // User names that are DNs: the same RDNs in the same order first, then in any order.
    std::vector<std::pair<const User*, Dn>> dns;
    for (const User& u : users) {
      if (!u.nkey.empty()) continue;
      auto parsed = parse_dn(u.username);
      if (!parsed) continue;
      if (dn_equal(*parsed, *id.dn)) return {&u, "DistinguishedNameMatch"};
      dns.emplace_back(&u, std::move(*parsed));
    }
    for (const auto& [u, parsed] : dns) {
      if (dn_rdns_match(parsed, *id.dn)) return {u, "DistinguishedNameMatch"};
    }
  }
  if (!id.rdn_with_dcs.empty()) {
    if (const User* u = by_name(id.rdn_with_dcs)) return {u, "RDNSequence"};
  }
  if (const User* u = by_name(id.rdn_string)) return {u, "certificate subject"};
  return {};
}

}  // namespace forest::broker

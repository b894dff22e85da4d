// See test_certs.hpp.
#include "test_certs.hpp"

#include <unistd.h>

#include <fstream>

#include "run_command.hpp"

namespace forest::testing {

TestCerts::TestCerts() {
  dir = std::filesystem::current_path() / ("forest-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ca.cnf") << R"([ca]
default_ca = own
[own]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
[srv]
subjectAltName = IP:127.0.0.1,DNS:localhost
[cli]
extendedKeyUsage = clientAuth
[alice]
extendedKeyUsage = clientAuth
subjectAltName = email:alice@example.com
[bob]
extendedKeyUsage = clientAuth
subjectAltName = DNS:bob.example.com
[nosan]
basicConstraints = CA:FALSE
)";
  // ca signs server, client and expired; ca2 (another CA) signs wrongca and server2.
  const std::string script = "set -e; cd " + dir.string() + R"(; touch index.txt; echo 01 > serial
for c in ca ca2; do openssl req -x509 -newkey rsa:2048 -nodes -keyout $c.key -out $c.pem -days 3 -subj /CN=forest-test-$c; done
mk() { n=$1; cn=$2; ext=$3; ca=$4; shift 4
  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$cn
  openssl ca -batch -config ca.cnf -cert $ca.pem -keyfile $ca.key -in $n.csr -out $n.pem -extensions $ext -notext "$@"; }
mk server localhost srv ca -days 3
mk client client cli ca -days 3
mk expired client cli ca -startdate 20200101000000Z -enddate 20200102000000Z
mk wrongca client cli ca2 -days 3
mk server2 localhost srv ca2 -days 3
mk nosan localhost nosan ca -days 3
echo not a certificate > garbage.pem
# verify_and_map: identities in an email SAN, a DNS SAN, a subject, a subject with domain components.
mkx() { n=$1; subj=$2; ext=$3
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key -out $n.csr -subj "$subj"
  openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in $n.csr -out $n.pem -extensions $ext -notext -preserveDN -days 3; }
mkx alice /CN=alice alice
mkx bob /CN=bob bob
mkx carol /C=US/O=Acme/OU=Eng/CN=carol cli
mkx dan /DC=org/DC=example/CN=dan/emailAddress=dan@example.org cli
# pinned_certs: the SHA-256 of the SubjectPublicKeyInfo of each certificate, in hex (no single quotes in this script: run_command quotes it).
for n in client alice server; do openssl x509 -in $n.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -r | cut -c1-64 > $n.spki; done
)";
  std::string out;
  ok = run_command({"sh", "-c", script}, &out) == 0;
  if (!ok) error = out;
}

TestCerts::~TestCerts() {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

const TestCerts& test_certs() {
  static TestCerts c;
  return c;
}

}  // namespace forest::testing

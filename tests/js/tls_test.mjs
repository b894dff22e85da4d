// nats.js over TLS with client certificates (the server runs with tls { verify: true }; run.sh
// makes the certificates with the openssl CLI). Exits non-zero on the first failed check.
//   NATS_URL  the server;  TLS_DIR  ca.pem, client.pem, client-key.pem, other-ca.pem
import { connect, StringCodec } from "nats";
import assert from "node:assert/strict";

const url = process.env.NATS_URL;
const dir = process.env.TLS_DIR;
const sc = StringCodec();
const tls = { caFile: `${dir}/ca.pem`, certFile: `${dir}/client.pem`, keyFile: `${dir}/client-key.pem` };

const checks = {
  async clientCertificateAccepted() {
    const nc = await connect({ servers: url, tls, name: "tls-ok" });
    assert.equal(nc.info.tls_required, true);
    assert.equal(nc.info.tls_verify, true);
    const sub = nc.subscribe("tls.x", { max: 1 });
    nc.publish("tls.x", sc.encode("secret"));
    for await (const m of sub) assert.equal(sc.decode(m.data), "secret");
    await nc.close();
  },
  async noClientCertificateRefused() {
    await assert.rejects(connect({ servers: url, tls: { caFile: tls.caFile }, reconnect: false, timeout: 3000 }));
  },
  async untrustedServerRefused() {
    // The client trusts another CA only: the server's certificate does not verify.
    await assert.rejects(connect({ servers: url, tls: { ...tls, caFile: `${dir}/other-ca.pem` }, reconnect: false,
                                   timeout: 3000 }));
  },
};

let failed = 0;
for (const [name, fn] of Object.entries(checks)) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
process.exit(failed === 0 ? 0 : 1);

// nats.js against a server with accounts, permissions and an nkey user (the config run.sh writes:
// security.conf). Exits non-zero on the first failed check. Run by tests/js/run.sh against
// forest-server and nats-server in the same test run.
//   NATS_URL   the server
//   NKEY_SEED  the seed of the nkey user configured in account A
import { connect, ErrorCode, Events, nkeyAuthenticator, StringCodec, Empty } from "nats";
import assert from "node:assert/strict";

const url = process.env.NATS_URL;
const seed = new TextEncoder().encode(process.env.NKEY_SEED);
const sc = StringCodec();

const as = (user) => connect({ servers: url, user, pass: "p", name: `sec-${user}` });

// Messages that arrive on `sub` within `ms`.
async function within(sub, ms) {
  const out = [];
  const timer = setTimeout(() => sub.unsubscribe(), ms);
  for await (const m of sub) out.push(sc.decode(m.data));
  clearTimeout(timer);
  return out;
}

// The first async error the connection reports within `ms` (permissions violations arrive
// this way), or null.
function nextError(nc, ms = 3000) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms); });
  const first = (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Error) return s.data;
    }
    return null;
  })();
  return Promise.race([first, timeout]).finally(() => clearTimeout(timer));
}

const checks = {
  async publishViolationKeepsTheConnection() {
    const nc = await as("limited");
    const err = nextError(nc);
    nc.publish("b.forbidden", Empty);
    const e = await err;
    // nats.js reports the kind of error (its code) in the status stream.
    assert.equal(e, ErrorCode.PermissionsViolation);
    // Still open, and what it may do still works.
    assert.equal(nc.isClosed(), false);
    const sub = nc.subscribe("a.ok");
    const got = within(sub, 500);
    nc.publish("a.ok", sc.encode("fine"));
    assert.deepEqual(await got, ["fine"]);
    await nc.close();
  },
  async subscribeViolation() {
    const nc = await as("limited");
    const sub = nc.subscribe("b.>");
    await assert.rejects(
      (async () => {
        for await (const _ of sub) { /* nothing may arrive */ }
      })(),
      (e) => e.code === ErrorCode.PermissionsViolation && /Subscription to "b.>"/.test(e.message),
    );
    assert.equal(nc.isClosed(), false);
    await nc.close();
  },
  async wildcardDoesNotCrossADeny() {
    const limited = await as("limited");
    const other = await as("a2");
    const sub = limited.subscribe("a.>");
    await limited.flush();
    const got = within(sub, 700);
    other.publish("a.secret", sc.encode("hidden"));
    other.publish("a.open", sc.encode("seen"));
    await other.flush();
    assert.deepEqual(await got, ["seen"]);
    await limited.close();
    await other.close();
  },
  async accountsAreIsolated() {
    const a = await as("a2");
    const b = await as("b");
    const sub = a.subscribe(">");
    await a.flush();
    const got = within(sub, 700);
    b.publish("a.open", sc.encode("from-b"));
    await b.flush();
    a.publish("a.open", sc.encode("from-a"));
    await a.flush();
    assert.deepEqual(await got, ["from-a"]);
    // A request across accounts finds nobody.
    const svc = b.subscribe("svc");
    (async () => { for await (const m of svc) m.respond(sc.encode("b-answer")); })();
    await b.flush();
    await assert.rejects(a.request("svc", Empty, { timeout: 1000 }), (e) => e.code === ErrorCode.NoResponders);
    await a.close();
    await b.close();
  },
  async nkeyUserLandsInItsAccount() {
    const nk = await connect({ servers: url, authenticator: nkeyAuthenticator(seed), name: "sec-nkey" });
    const a = await as("a2");
    const sub = nk.subscribe("a.open");
    await nk.flush();
    const got = within(sub, 700);
    a.publish("a.open", sc.encode("to-nkey"));
    await a.flush();
    assert.deepEqual(await got, ["to-nkey"]);
    await nk.close();
    await a.close();
  },
  async badCredentialsAreRefused() {
    await assert.rejects(connect({ servers: url, user: "a2", pass: "wrong", reconnect: false }),
      (e) => e.code === ErrorCode.AuthorizationViolation);
    // An nkey that is not configured.
    const { nkeys } = await import("nats");
    const stranger = nkeys.createUser().getSeed();
    await assert.rejects(connect({ servers: url, authenticator: nkeyAuthenticator(stranger), reconnect: false }),
      (e) => e.code === ErrorCode.AuthorizationViolation);
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

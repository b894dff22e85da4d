// nats.js end-to-end checks against one server (NATS_URL). Exits non-zero on the first failure.
// Run by tests/js/run.sh against forest-server and nats-server in the same test run.
import { connect, headers, StringCodec, Empty, ErrorCode } from "nats";
import assert from "node:assert/strict";

const url = process.env.NATS_URL;
const sc = StringCodec();

async function collect(sub, n, timeoutMs = 5000) {
  const out = [];
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  for await (const m of sub) {
    out.push(m);
    if (out.length === n) break;
  }
  clearTimeout(timer);
  return out;
}

const checks = {
  async pubsub(nc) {
    const sub = nc.subscribe("js.orders.*");
    const got = collect(sub, 100);
    for (let i = 0; i < 100; i++) nc.publish(`js.orders.${i % 3}`, sc.encode(String(i)));
    const msgs = await got;
    assert.equal(msgs.length, 100);
    assert.deepEqual(msgs.map((m) => sc.decode(m.data)), [...Array(100).keys()].map(String));
  },
  async queue(nc) {
    const a = nc.subscribe("js.work", { queue: "workers" });
    const b = nc.subscribe("js.work", { queue: "workers" });
    let ca = 0, cb = 0;
    (async () => { for await (const _ of a) ca++; })();
    (async () => { for await (const _ of b) cb++; })();
    await nc.flush();
    for (let i = 0; i < 1000; i++) nc.publish("js.work", Empty);
    await nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ca + cb, 1000);
    assert.ok(ca > 0 && cb > 0, `both members used (${ca}/${cb})`);
    a.unsubscribe();
    b.unsubscribe();
  },
  async requestReply(nc) {
    const svc = nc.subscribe("js.echo");
    (async () => { for await (const m of svc) m.respond(sc.encode("echo:" + sc.decode(m.data))); })();
    await nc.flush();
    const r = await nc.request("js.echo", sc.encode("hi"), { timeout: 2000 });
    assert.equal(sc.decode(r.data), "echo:hi");
    svc.unsubscribe();
  },
  async noResponders(nc) {
    await assert.rejects(nc.request("js.nobody", Empty, { timeout: 2000 }), (e) => e.code === ErrorCode.NoResponders);
  },
  async headers(nc) {
    const sub = nc.subscribe("js.h");
    const got = collect(sub, 1);
    const h = headers();
    h.set("X-Forest", "leaf-1");
    nc.publish("js.h", sc.encode("body"), { headers: h });
    const [m] = await got;
    assert.equal(m.headers.get("X-Forest"), "leaf-1");
    assert.equal(sc.decode(m.data), "body");
  },
  async autoUnsubscribe(nc) {
    const sub = nc.subscribe("js.max", { max: 3 });
    for (let i = 0; i < 10; i++) nc.publish("js.max", Empty);
    const msgs = await collect(sub, 10, 500);
    assert.equal(msgs.length, 3);
  },
  async serverInfo(nc) {
    assert.equal(nc.info.version, "2.9.10");
    assert.equal(nc.info.headers, true);
    assert.equal(nc.info.proto, 1);
  },
};

const nc = await connect({ servers: url, name: "forest-js-tests" });
let failed = 0;
for (const [name, fn] of Object.entries(checks)) {
  try {
    await fn(nc);
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
await nc.drain();
process.exit(failed === 0 ? 0 : 1);

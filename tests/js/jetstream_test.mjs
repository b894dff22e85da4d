// nats.js JetStream checks against one server with JetStream on (NATS_URL): streams, the
// consumer API nats.js 2.29 uses (named consumers, fetch and consume with heartbeats, ordered
// consumers), acks, key-value and the object store. Exits non-zero on any failure. Run by
// tests/js/run.sh against forest-server and nats-server in the same test run.
import { connect, StringCodec, AckPolicy, DeliverPolicy, RetentionPolicy } from "nats";
import assert from "node:assert/strict";

const url = process.env.NATS_URL;
const sc = StringCodec();

const checks = {
  async pullFetchAndConsume(nc) {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "NJS", subjects: ["njs.>"] });
    const js = nc.jetstream();
    for (let i = 0; i < 50; i++) await js.publish(`njs.${i % 5}`, sc.encode(String(i)));
    await jsm.consumers.add("NJS", { durable_name: "W", ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get("NJS", "W");
    const got = [];
    const batch = await c.fetch({ max_messages: 20, expires: 2000 });
    for await (const m of batch) {
      got.push(sc.decode(m.data));
      m.ack();
    }
    assert.equal(got.length, 20);
    const rest = await c.consume({ max_messages: 10 });
    for await (const m of rest) {
      got.push(sc.decode(m.data));
      await m.ackAck();
      if (got.length === 50) break;
    }
    assert.deepEqual(got, [...Array(50).keys()].map(String));
    const info = await c.info();
    assert.equal(info.num_pending, 0);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.ack_floor.stream_seq, 50);
  },
  async orderedConsumer(nc) {
    const js = nc.jetstream();
    const oc = await js.consumers.get("NJS", { filterSubjects: "njs.3" });
    const iter = await oc.consume();
    const got = [];
    for await (const m of iter) {
      got.push(sc.decode(m.data));
      if (got.length === 10) break;
    }
    assert.deepEqual(got, ["3", "8", "13", "18", "23", "28", "33", "38", "43", "48"]);
  },
  async workQueue(nc) {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "NWQ", subjects: ["nwq.>"], retention: RetentionPolicy.Workqueue });
    const js = nc.jetstream();
    for (let i = 0; i < 10; i++) await js.publish("nwq.job", sc.encode(String(i)));
    await jsm.consumers.add("NWQ", { durable_name: "Q", ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    const c = await js.consumers.get("NWQ", "Q");
    const batch = await c.fetch({ max_messages: 10, expires: 2000 });
    for await (const m of batch) await m.ackAck();
    const si = await jsm.streams.info("NWQ");
    assert.equal(si.state.messages, 0);
  },
  async keyValue(nc) {
    const js = nc.jetstream();
    const kv = await js.views.kv("NKV", { history: 3 });
    await kv.put("a", sc.encode("1"));
    await kv.put("a", sc.encode("2"));
    await kv.put("b", sc.encode("x"));
    assert.equal(sc.decode((await kv.get("a")).value), "2");
    const keys = [];
    for await (const k of await kv.keys()) keys.push(k);
    assert.deepEqual(keys.sort(), ["a", "b"]);
    const hist = [];
    for await (const e of await kv.history({ key: "a" })) hist.push(sc.decode(e.value));
    assert.deepEqual(hist, ["1", "2"]);
    await kv.delete("b");
    assert.equal((await kv.get("b")).operation, "DEL");
    const w = await kv.watch({ key: "a" });
    await kv.put("a", sc.encode("3"));
    for await (const e of w) {
      if (sc.decode(e.value) === "3") break;
    }
    w.stop();
  },
  async objectStore(nc) {
    const js = nc.jetstream();
    const os = await js.views.os("NOBJ");
    const data = new Uint8Array(300 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    await os.putBlob({ name: "blob.bin" }, data);
    const info = await os.info("blob.bin");
    assert.equal(info.size, data.length);
    const back = await os.getBlob("blob.bin");
    assert.equal(back.length, data.length);
    assert.ok(back.every((b, i) => b === data[i]), "the object reads back byte for byte");
    // 3 MB: the ordered consumer that reads it back needs flow control.
    const big = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    await os.putBlob({ name: "big.bin" }, big);
    const bigBack = await os.getBlob("big.bin");
    assert.equal(bigBack.length, big.length);
    assert.ok(bigBack.every((b, i) => b === big[i]), "the 3 MB object reads back byte for byte");
    await os.delete("big.bin");
    const listed = (await os.list()).map((o) => o.name);
    assert.deepEqual(listed, ["blob.bin"]);
    await os.delete("blob.bin");
    const gone = await os.info("blob.bin");  // nats.js returns the deleted entry's info
    assert.ok(gone === null || gone.deleted === true, "deleted");
    assert.equal(await os.get("blob.bin"), null);
  },
};

const nc = await connect({ servers: url, name: "forest-js-jetstream-tests" });
let failed = 0;
for (const [name, fn] of Object.entries(checks)) {
  try {
    let timer;
    const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error("timed out after 10 s")), 10000); });
    await Promise.race([fn(nc), limit]);
    clearTimeout(timer);
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
await nc.drain();
process.exit(failed === 0 ? 0 : 1);

// A slow, hung or absent database must turn into a fast 503 (Customer.io waits 4 s, then retries),
// never a hang and never a half-written event; the service recovers by itself.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, unevenDeliveries, waitForProjection, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

let db: TestDatabase;
let proxy: TcpProxy;
let svc: TestService;

before(async () => {
  db = await createTestDatabase();
  const proxied = await TcpProxy.forUrl(db.url);
  proxy = proxied.proxy;
  svc = await startTestService(proxied.url, { DB_STATEMENT_TIMEOUT_MS: "500", DB_CONNECT_TIMEOUT_MS: "500", WEBHOOK_TIMEOUT_MS: "2000" });
});
after(async () => {
  await svc.stop();
  await proxy.close();
  await db.drop();
});

async function timedWebhook(body: object) {
  const started = performance.now();
  const res = await svc.webhook(body);
  return { ...res, ms: performance.now() - started };
}

/** Every stored event is fully applied: its delivery exists and counts it (once the projector caught up). */
async function assertNothingHalfWritten() {
  await waitForProjection(db);
  assert.deepEqual(await unevenDeliveries(db), []);
}

describe("database outage", () => {
  it("answers 503 fast while the database refuses connections, then recovers by itself", async () => {
    assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }))).status, 200);
    proxy.setMode("refuse");
    const during = await Promise.all(Array.from({ length: 10 }, () => timedWebhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }))));
    for (const r of during) {
      assert.equal(r.status, 503);
      assert.equal(r.json["error"], "unavailable");
      assert.ok(r.ms < 1500, `answered in ${r.ms.toFixed(0)} ms`);
    }
    const ready = await fetch(`${svc.url}/readyz`);
    assert.equal(ready.status, 503);

    proxy.setMode("pass");
    const event = messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() });
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      status = (await svc.webhook(event)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, "recovers without a restart");
    assert.equal((await fetch(`${svc.url}/readyz`)).status, 200);
    await assertNothingHalfWritten();
  });

  it("answers 503 well under 4 s while the database hangs", async () => {
    proxy.setMode("blackhole");
    try {
      const during = await Promise.all(Array.from({ length: 5 }, () => timedWebhook(messageEvent({ objectType: "push", metric: "delivered", deliveryId: deliveryId() }))));
      for (const r of during) {
        assert.equal(r.status, 503);
        assert.ok(r.ms < 2500, `answered in ${r.ms.toFixed(0)} ms`);
      }
    } finally {
      proxy.setMode("refuse"); // drop the hung connections
      proxy.setMode("pass");
    }
    let status = 0;
    for (let i = 0; i < 30 && status !== 200; i++) {
      status = (await svc.webhook(messageEvent({ objectType: "push", metric: "delivered", deliveryId: deliveryId() }))).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200);
    await assertNothingHalfWritten();
  });

  it("answers 503 when a statement times out on a lock, leaving no trace of the event", async () => {
    const locker = await db.pool.connect();
    const id = deliveryId();
    const event = messageEvent({ objectType: "email", metric: "sent", deliveryId: id });
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE projection_queue IN ACCESS EXCLUSIVE MODE");
      const r = await timedWebhook(event);
      assert.equal(r.status, 503);
      assert.ok(r.ms < 2500, `answered in ${r.ms.toFixed(0)} ms`);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    assert.deepEqual(await db.query("SELECT 1 FROM delivery_events WHERE event_id = $1", [event["event_id"]]), [], "the event was rolled back with its queue row");
    // Customer.io's retry then stores it.
    assert.equal((await svc.webhook(event)).status, 200);
    assert.equal((await db.query("SELECT 1 FROM deliveries WHERE delivery_id = $1", [id])).length, 1);
    await assertNothingHalfWritten();
  });
});

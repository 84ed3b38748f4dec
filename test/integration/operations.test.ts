// Health, readiness, graceful shutdown, and secrets kept out of logs.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Writable } from "node:stream";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { FakeAppApi, makeMessages } from "../../scripts/lib/fake-app-api.js";
import { createLogger } from "../../src/core/logger.js";
import { waitFor } from "../helpers/wait.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, TEST_KEY } from "../helpers/service.js";

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

describe("health and readiness", () => {
  it("reports live and ready on a migrated database", async () => {
    const svc = await startTestService(db.url);
    try {
      const health = await fetch(`${svc.url}/healthz`);
      assert.equal(health.status, 200);
      assert.ok(health.headers.get("x-request-id"));
      const ready = await fetch(`${svc.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { ok: true });
    } finally {
      await svc.stop();
    }
  });

  it("is live but not ready while migrations are pending, and ready after they run at start", async () => {
    const empty = await createTestDatabase({ empty: true });
    try {
      const unmigrated = await startTestService(empty.url, { MIGRATIONS_RUN: "false" });
      try {
        assert.equal((await fetch(`${unmigrated.url}/healthz`)).status, 200);
        const ready = await fetch(`${unmigrated.url}/readyz`);
        assert.equal(ready.status, 503);
        assert.deepEqual(await ready.json(), { ok: false, reason: "migrations pending" });
      } finally {
        await unmigrated.stop();
      }
      const migrated = await startTestService(empty.url, { MIGRATIONS_RUN: "true" });
      try {
        assert.equal((await fetch(`${migrated.url}/readyz`)).status, 200);
      } finally {
        await migrated.stop();
      }
    } finally {
      await empty.drop();
    }
  });
});

describe("graceful shutdown", () => {
  it("finishes a request in flight, commits it, then stops accepting", async () => {
    const svc = await startTestService(db.url, { DB_STATEMENT_TIMEOUT_MS: "5000", WEBHOOK_TIMEOUT_MS: "3900" });
    const locker = await db.pool.connect();
    const id = deliveryId();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE projection_queue IN ACCESS EXCLUSIVE MODE");
    const inFlight = svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: id }), { wait: false });
    await new Promise((r) => setTimeout(r, 200)); // the request is now waiting on the lock
    const stopped = svc.stop();
    await new Promise((r) => setTimeout(r, 100));
    await locker.query("ROLLBACK");
    locker.release();
    const res = await inFlight;
    await stopped;
    assert.equal(res.status, 200, "the in-flight request was answered after its commit");
    assert.equal((await db.query("SELECT 1 FROM deliveries WHERE delivery_id = $1", [id])).length, 1, "and applied to its delivery before the stop finished");
    await assert.rejects(fetch(`${svc.url}/healthz`), "no longer accepting connections");
  });
});

describe("logging", () => {
  it("never writes a secret (signing key, signatures, database password, Track API key, App API key, relay credentials), even at trace level", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const fake = await FakeCustomerIo.start({ siteId: "site-id-secret", apiKey: "track-api-key-secret" });
    const appApi = await FakeAppApi.start({ apiKey: "app-api-key-secret" });
    appApi.add(makeMessages({ from: Math.floor(Date.now() / 1000) - 10 * 3600, to: Math.floor(Date.now() / 1000) - 2 * 3600, count: 20, prefix: "secret" }));
    const svc = await startTestService(
      db.url,
      {
        LOG_LEVEL: "trace",
        CIO_TRACK_URL: fake.url,
        CIO_SITE_ID: "site-id-secret",
        CIO_API_KEY: "track-api-key-secret",
        CIO_REGION: "us",
        REPORTER_PUSH_MODE: "batch",
        RELAY_CREDENTIALS: "relay-user:relay-password-secret",
        CIO_APP_API_KEY: "app-api-key-secret",
        CIO_APP_API_URL: appApi.url,
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
      },
      createLogger("trace", sink),
    );
    try {
      const ok = await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
      const bad = await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }), { key: "wrong" });
      assert.deepEqual([ok.status, bad.status], [200, 401]);
      const auth = { authorization: `Basic ${Buffer.from("relay-user:relay-password-secret").toString("base64")}` };
      fake.fail({ status: 401 }, 1, "/api/v2/batch"); // an error path that logs Customer.io's answer
      const id = deliveryId();
      assert.equal((await svc.post("/push/events", { delivery_id: id, event: "opened", device_id: "tok", timestamp: 1_700_000_000 }, auth)).status, 200);
      assert.equal((await svc.post("/api/v1/metrics", { delivery_id: id, metric: "opened" }, { authorization: "Basic d3Jvbmc6d3Jvbmc=" })).status, 401);
      await waitFor("the failed batch is dead-lettered", async () => (await db.query("SELECT 1 FROM outbox WHERE delivery_id = $1 AND status = 'dead'", [id])).length === 1);
      appApi.fail({ status: 500, body: { errors: [{ detail: "injected" }] } }, 1); // a retried App API request is logged
      assert.equal((await svc.service.reconciler!.runOnce()).run?.messages_read, 20);
    } finally {
      await svc.stop();
      await fake.close();
      await appApi.close();
    }
    const log = lines.join("");
    assert.match(log, /"msg":"request"/, "requests are logged");
    assert.match(log, /Customer.io call failed/, "the failed call is logged");
    assert.match(log, /App API request failed; retrying/, "the retried App API request is logged");
    const password = decodeURIComponent(new URL(db.url).password);
    const secrets = [TEST_KEY, password, "track-api-key-secret", "app-api-key-secret", "relay-password-secret", Buffer.from("site-id-secret:track-api-key-secret").toString("base64")];
    for (const secret of secrets) assert.ok(!log.includes(secret), `log contains a secret: ${secret.slice(0, 3)}…`);
    assert.doesNotMatch(log, /[0-9a-f]{64}/, "no signature in the log");
  });
});

// Health, readiness, graceful shutdown, and secrets kept out of logs.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Writable } from "node:stream";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { createLogger } from "../../src/core/logger.js";
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
    await locker.query("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE");
    const inFlight = svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: id }));
    await new Promise((r) => setTimeout(r, 200)); // the request is now waiting on the lock
    const stopped = svc.stop();
    await new Promise((r) => setTimeout(r, 100));
    await locker.query("ROLLBACK");
    locker.release();
    const res = await inFlight;
    await stopped;
    assert.equal(res.status, 200, "the in-flight request was answered after its commit");
    assert.equal((await db.query("SELECT 1 FROM deliveries WHERE delivery_id = $1", [id])).length, 1);
    await assert.rejects(fetch(`${svc.url}/healthz`), "no longer accepting connections");
  });
});

describe("logging", () => {
  it("never writes the signing key, signatures or the database password, even at trace level", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const svc = await startTestService(db.url, { LOG_LEVEL: "trace" }, createLogger("trace", sink));
    try {
      const ok = await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }));
      const bad = await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }), { key: "wrong" });
      assert.deepEqual([ok.status, bad.status], [200, 401]);
    } finally {
      await svc.stop();
    }
    const log = lines.join("");
    assert.match(log, /"msg":"request"/, "requests are logged");
    const password = decodeURIComponent(new URL(db.url).password);
    for (const secret of [TEST_KEY, password]) assert.ok(!log.includes(secret), `log contains a secret: ${secret.slice(0, 3)}…`);
    assert.doesNotMatch(log, /[0-9a-f]{64}/, "no signature in the log");
  });
});

// Exactly-once to the Data Pipelines API across a crash: a service process is killed (-9) after
// Customer.io has taken its calls but before it could record that; the next process sends them again
// with the same messageIds, so Customer.io, which deduplicates by messageId, keeps each event once. No
// messageId may arrive as two different events, and none may be lost.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakePipelines } from "../../scripts/lib/fake-pipelines.js";
import { deliveryId } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startInstance } from "../helpers/process.js";
import { waitFor } from "../helpers/wait.js";

const APP_KEY = "wk-crash-app-6e1f";
const OWN_KEY = "wk-crash-own-2b9d";
let fake: FakePipelines;
let db: TestDatabase;
before(async () => {
  fake = await FakePipelines.start({ writeKeys: [APP_KEY, OWN_KEY] });
  db = await createTestDatabase();
});
after(async () => {
  await fake.close();
  await db.drop();
});

const env = (reporter: boolean) => ({
  CIO_WEBHOOK_SIGNING_KEYS: "crash-key",
  CIO_TRACK_URL: "http://127.0.0.1:9",
  CIO_CDP_URL: fake.apiUrl,
  REPORTER_TRANSPORT: "pipelines",
  CIO_CDP_WRITE_KEY: OWN_KEY,
  REPORTER_ENABLED: String(reporter),
  REPORTER_SCHEDULE: "* * * * * *",
  REPORTER_LEASE_SECONDS: "5",
  REPORTER_BACKOFF_BASE_MS: "100",
  CIO_TIMEOUT_MS: "60000",
});

async function post(url: string, path: string, body: unknown, key?: string): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers["authorization"] = `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
  const res = await fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

describe("crash while sending to the Data Pipelines API", () => {
  it("kill -9 after Customer.io took the calls: the resend carries the same messageIds, and each event is kept once", async () => {
    // 1. Calls accepted and committed by an instance that does not send: relayed ones and our own metrics.
    const accepting = await startInstance(db.url, env(false));
    const relayed = Array.from({ length: 30 }, (_, i) => `crash-${i}-${Math.random().toString(36).slice(2)}`);
    const batch = relayed.map((messageId, i) =>
      i % 3 === 0
        ? { type: "track", event: "Report Delivery Event", anonymousId: "device-1", properties: { deliveryId: deliveryId(), metric: "delivered", recipient: "tok" }, messageId, timestamp: "2026-11-20T08:00:00.000Z" }
        : { type: "track", event: "Viewed", userId: `p-${i}`, messageId, timestamp: "2026-11-20T08:00:00.000Z" },
    );
    assert.equal(await post(accepting.url, "/v1/batch", { batch }, APP_KEY), 200);
    for (let i = 0; i < 10; i++) assert.equal(await post(accepting.url, "/api/v1/metrics", { delivery_id: deliveryId(), metric: "opened", timestamp: 1_790_000_000 + i }), 200);
    accepting.proc.child.kill("SIGTERM");
    await accepting.proc.exited;
    const rows = await db.query("SELECT count(*)::int AS n FROM outbox WHERE status = 'pending'");
    assert.equal(rows[0]!["n"], 40);

    // 2. A sender whose requests Customer.io takes but never answers: killed with the calls recorded there and not here.
    fake.fail({ acceptThenHang: true }, 1000);
    const sending = await startInstance(db.url, env(true));
    await waitFor("Customer.io has every call", () => fake.events.size === 40, 20_000);
    sending.proc.child.kill("SIGKILL");
    await sending.proc.exited;
    const stillPending = await db.query("SELECT count(*)::int AS n FROM outbox WHERE status = 'pending'");
    assert.equal(stillPending[0]!["n"], 40, "the killed sender recorded nothing");

    // 3. The next sender takes the rows once their leases run out, and sends them again.
    fake.clearFaults();
    const next = await startInstance(db.url, env(true));
    try {
      await waitFor("every row delivered", async () => (await db.query("SELECT 1 FROM outbox WHERE status <> 'delivered'")).length === 0, 30_000);
      const events = [...fake.events.values()];
      assert.equal(events.length, 40, "40 events: none lost, none duplicated");
      assert.ok(events.every((e) => e.copies.length >= 2), "each call was sent again after the crash");
      assert.deepEqual(fake.conflicts().map((e) => e.messageId), [], "no messageId arrived as two different events");
      for (const m of relayed) assert.ok(fake.event(m), `relayed ${m} kept its messageId`);
      assert.equal(events.filter((e) => e.writeKey === OWN_KEY).length, 10);
    } finally {
      next.proc.child.kill("SIGTERM");
      await next.proc.exited;
    }
  });
});

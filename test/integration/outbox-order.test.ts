// The outbox against the fake Customer.io: the person's last choice is what Customer.io ends up with,
// whatever fails and retries; every call goes once, also with two instances and a Retry-After longer
// than the lease; a sender whose lease was taken over cannot change a row; unsubscribes go before a
// backlog of metrics.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { claim, markDelivered, markFailed } from "../../src/reporter/outbox.repository.js";
import { resubscribeToken } from "../../src/unsubscribe/unsubscribe.routes.js";
import { createTestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "outbox-order-secret";
const ENV = { REPORTER_SCHEDULE: "* * * * * *", REPORTER_BACKOFF_BASE_MS: "100", REPORTER_BACKOFF_MAX_MS: "400", UNSUBSCRIBE_SECRET: SECRET };

let fake: FakeCustomerIo;
before(async () => {
  fake = await FakeCustomerIo.start();
});
after(async () => {
  await fake.close();
});
beforeEach(() => fake.clearFaults());

const form = (svc: TestService, id: string, body: string) =>
  fetch(`${svc.url}/unsubscribe/${id}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

describe("per-key ordering", () => {
  it("ends with the person's last choice after unsubscribe, a resubscribe that fails 3 times, and unsubscribe again", async () => {
    const db = await createTestDatabase();
    const svc = await startTestService(db.url, { ...ENV, CIO_TRACK_URL: fake.url });
    try {
      const id = deliveryId();
      assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: id }))).status, 200);
      const path = `/unsubscribe/${id}`;
      assert.equal(await form(svc, id, "List-Unsubscribe=One-Click"), 200);
      await waitFor("the unsubscribe is accepted", () => fake.acceptedOn(path).length === 1);

      fake.fail({ status: 503 }, 3, path);
      assert.equal(await form(svc, id, `unsubscribe=false&token=${resubscribeToken(SECRET, id)}`), 200);
      await waitFor("the resubscribe failed once", () => fake.log.some((r) => r.path === path && r.status === 503));
      assert.equal(await form(svc, id, "unsubscribe=true"), 200);

      await waitFor("nothing left to send", async () => (await db.query("SELECT 1 FROM outbox WHERE delivery_id = $1 AND status = 'pending'", [id])).length === 0, 15_000);
      await new Promise((r) => setTimeout(r, 1500)); // more cron ticks: a late retry would show now
      const accepted = fake.acceptedOn(path).map((r) => (r.body as { unsubscribe: boolean }).unsubscribe);
      assert.equal(accepted.at(-1), true, `the last call Customer.io accepted is the unsubscribe (accepted in order: ${accepted.join(", ")})`);
      const rows = await db.query<{ status: string }>("SELECT status FROM outbox WHERE delivery_id = $1 AND kind = 'unsubscribe' ORDER BY id", [id]);
      assert.deepEqual(rows.map((r) => r.status).slice(-1), ["delivered"]);
    } finally {
      await svc.stop();
      await db.drop();
    }
  });
});

describe("leases", () => {
  it("two instances, a 429 with Retry-After longer than the lease: every row is delivered exactly once", async () => {
    const db = await createTestDatabase();
    const env = { ...ENV, CIO_TRACK_URL: fake.url, REPORTER_LEASE_SECONDS: "5", REPORTER_RATE_LIMIT: "50" };
    const [one, two] = [await startTestService(db.url, env), await startTestService(db.url, env)];
    try {
      const before = fake.accepted.length;
      fake.fail({ status: 429, retryAfter: 8 }, 1, "/api/v1/metrics");
      const ids = Array.from({ length: 30 }, () => deliveryId());
      for (const [i, id] of ids.entries()) {
        assert.equal((await (i % 2 ? one : two).post("/api/v1/metrics", { delivery_id: id, metric: "delivered", timestamp: 1_700_000_000 })).status, 200);
      }
      await waitFor("all delivered", async () => (await db.query("SELECT 1 FROM outbox WHERE status = 'delivered'")).length === 30, 30_000, 200);
      await new Promise((r) => setTimeout(r, 1500));
      const sent = fake.accepted.slice(before).map((r) => (r.body as { delivery_id: string }).delivery_id).filter((id) => ids.includes(id));
      assert.equal(sent.length, 30, `each sent once (${sent.length} accepted for 30 rows)`);
      assert.equal(new Set(sent).size, 30);
      assert.ok(fake.log.some((r) => r.status === 429), "the 429 happened");
    } finally {
      await one.stop();
      await two.stop();
      await db.drop();
    }
  });

  it("a stale sender's late update does not change a row another sender delivered", async () => {
    const db = await createTestDatabase();
    try {
      await db.query("INSERT INTO outbox (event_id, kind, delivery_id, payload) VALUES ('e1', 'metric', 'd1', '{}')");
      const [stale] = await claim(db.pool, 10, 5, "stale-sender:1");
      assert.ok(stale);
      await db.query("UPDATE outbox SET locked_until = now() - interval '1 second'"); // its lease ran out
      const [fresh] = await claim(db.pool, 10, 5, "fresh-sender:1");
      assert.equal(fresh?.id, stale.id, "another sender took the row over");
      assert.equal(await markDelivered(db.pool, [fresh!.id], 200, "fresh-sender:1"), 1);
      // The stale sender comes back: its failure, and its success, change nothing.
      assert.equal(await markFailed(db.pool, [{ id: stale.id, dead: true, nextAttemptInMs: 0, status: 500, error: "late" }], "stale-sender:1"), 0);
      assert.equal(await markDelivered(db.pool, [stale.id], 202, "stale-sender:1"), 0);
      assert.deepEqual(await db.query("SELECT status, last_status, last_error FROM outbox WHERE id = $1", [stale.id]), [{ status: "delivered", last_status: 200, last_error: null }]);
    } finally {
      await db.drop();
    }
  });
});

describe("priority", () => {
  it("sends an unsubscribe queued behind 100,000 pending metrics in the next round", async () => {
    const db = await createTestDatabase();
    const slow = await FakeCustomerIo.start({ latencyMs: 5 });
    try {
      await db.query(
        `INSERT INTO outbox (event_id, kind, delivery_id, payload)
         SELECT 'backlog-' || i, 'metric', 'backlog-' || i, jsonb_build_object('delivery_id', 'backlog-' || i, 'metric', 'delivered', 'timestamp', 1700000000)
         FROM generate_series(1, 100000) AS i`,
      );
      const svc = await startTestService(db.url, { ...ENV, CIO_TRACK_URL: slow.url, REPORTER_RATE_LIMIT: "100", REPORTER_CONCURRENCY: "10" });
      try {
        await waitFor("the backlog is being sent", () => slow.accepted.length > 150, 10_000);
        const id = deliveryId();
        const metricsBefore = slow.acceptedOn("/api/v1/metrics").length;
        assert.equal(await form(svc, id, "List-Unsubscribe=One-Click"), 200);
        await waitFor("the unsubscribe is accepted", () => slow.acceptedOn(`/unsubscribe/${id}`).length === 1, 10_000);
        const overtaking = slow.accepted.slice(0, slow.accepted.findIndex((r) => r.path === `/unsubscribe/${id}`)).filter((r) => r.path === "/api/v1/metrics").length - metricsBefore;
        // A round is 100 calls at 100/s (REPORTER_RATE_LIMIT); the calls already started (10) finish first.
        assert.ok(overtaking <= 110, `${overtaking} metrics went out between the unsubscribe and its call: at most one round`);
        const [{ pending }] = (await db.query<{ pending: number }>("SELECT count(*)::int AS pending FROM outbox WHERE status = 'pending'")) as [{ pending: number }];
        assert.ok(pending > 99_000, "with the backlog still waiting");
      } finally {
        await svc.stop();
      }
    } finally {
      await slow.close();
      await db.drop();
    }
  });
});

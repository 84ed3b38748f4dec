// Real service processes on one real PostgreSQL: kill -9 under load and restart, and three instances
// sharing the work. Nothing acknowledged may be lost, nothing may be half-applied, and no outbox row
// may be sent by two instances.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { deliveryId, messageEvent, signedHeaders } from "../../scripts/lib/sample-events.js";
import { createTestDatabase, unevenDeliveries, waitForProjection, type TestDatabase } from "../helpers/database.js";
import { startInstance as startServiceInstance, type ServiceProcess } from "../helpers/process.js";
import { waitFor } from "../helpers/wait.js";

const KEY = "reliability-key";
let fake: FakeCustomerIo;
before(async () => {
  fake = await FakeCustomerIo.start({ latencyMs: 30 });
});
after(async () => {
  await fake.close();
});

function startInstance(db: TestDatabase, env: Record<string, string> = {}): Promise<{ proc: ServiceProcess; url: string }> {
  return startServiceInstance(db.url, {
    CIO_WEBHOOK_SIGNING_KEYS: KEY,
    CIO_TRACK_URL: fake.url,
    REPORTER_SCHEDULE: "* * * * * *",
    REPORTER_LEASE_SECONDS: "5",
    REPORTER_BACKOFF_BASE_MS: "100",
    REPORTER_RATE_LIMIT: "500",
    ...env,
  });
}

async function sendWebhook(url: string, event: Record<string, unknown>): Promise<number> {
  const body = JSON.stringify(event);
  try {
    const res = await fetch(`${url}/webhooks/customerio`, { method: "POST", headers: signedHeaders(KEY, body), body });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // connection cut: not acknowledged
  }
}

async function postJson(url: string, path: string, body: unknown): Promise<number> {
  try {
    const res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Every stored event applied to its delivery exactly once, once the projectors have caught up. */
async function assertConsistent(db: TestDatabase): Promise<void> {
  await waitForProjection(db);
  assert.deepEqual(await unevenDeliveries(db), [], "every stored event is applied to its delivery, exactly once");
}

describe("crash", () => {
  it("after kill -9 under webhook and relay load, every acknowledged event is stored and every queued metric is delivered", async () => {
    const db = await createTestDatabase();
    try {
      const first = await startInstance(db);
      const acked: string[] = [];
      const ackedMetrics: string[] = [];
      let stop = false;
      const webhookLoop = async () => {
        while (!stop) {
          const event = messageEvent({ objectType: "email", metric: "delivered", deliveryId: deliveryId() });
          if ((await sendWebhook(first.url, event)) === 200) acked.push(event["event_id"] as string);
        }
      };
      const relayLoop = async () => {
        while (!stop) {
          const id = deliveryId();
          if ((await postJson(first.url, "/api/v1/metrics", { delivery_id: id, metric: "opened", timestamp: 1_700_000_000 })) === 200) ackedMetrics.push(id);
        }
      };
      const loops = [...Array.from({ length: 6 }, webhookLoop), ...Array.from({ length: 2 }, relayLoop)];
      await waitFor("load under way", () => acked.length > 300 && fake.accepted.length > 20, 20_000);
      first.proc.child.kill("SIGKILL");
      await first.proc.exited;
      stop = true;
      await Promise.all(loops);

      const stored = new Set((await db.query<{ event_id: string }>("SELECT event_id FROM delivery_events")).map((r) => r.event_id));
      const missing = acked.filter((id) => !stored.has(id));
      assert.deepEqual(missing, [], `${acked.length} acknowledged webhooks, all stored`);
      // Killed mid-run: each stored event is applied, or still queued for the next projector, once.
      assert.deepEqual(await unevenDeliveries(db), [], "every stored event applied or queued, exactly once");

      const second = await startInstance(db);
      try {
        await waitFor("outbox drained after restart", async () => {
          const [r] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status <> 'delivered'");
          return r!.n === 0;
        }, 30_000, 200);
        const sentIds = fake.accepted.filter((r) => r.path === "/api/v1/metrics").map((r) => (r.body as { delivery_id: string }).delivery_id);
        const sentOnce = new Set(sentIds);
        assert.deepEqual(ackedMetrics.filter((id) => !sentOnce.has(id)), [], `${ackedMetrics.length} acknowledged metrics, all delivered`);
        // Only a request in flight at the instant of the crash can be sent again (at-least-once).
        const duplicates = sentIds.length - sentOnce.size;
        assert.ok(duplicates <= 10, `at most REPORTER_CONCURRENCY (10) resent, saw ${duplicates}`);
        // Events the killed instance had queued but not applied: the new one applies them.
        await assertConsistent(db);
      } finally {
        second.proc.child.kill("SIGTERM");
        assert.equal(await second.proc.exited, 0);
      }
    } finally {
      await db.drop();
    }
  });
});

describe("a burst of relayed calls", () => {
  it("one instance answers 1,000 concurrent relay calls with 200 within the deadline, stores each once and delivers each once", async () => {
    const db = await createTestDatabase();
    const one = await startInstance(db, { REPORTER_RATE_LIMIT: "2000", REPORTER_CONCURRENCY: "20" });
    try {
      const ids = Array.from({ length: 1000 }, () => deliveryId());
      const before = fake.accepted.length;
      // Half metrics, half push events, like a campaign's push landing on many devices at once.
      const answers = await Promise.all(ids.map(async (id, i) => {
        const started = Date.now();
        const status = i % 2
          ? await postJson(one.url, "/api/v1/metrics", { delivery_id: id, metric: "delivered", timestamp: 1_700_000_000 })
          : await postJson(one.url, "/push/events", { delivery_id: id, event: "opened", device_id: `device-${i}`, timestamp: 1_700_000_000 });
        return { status, ms: Date.now() - started };
      }));
      const byStatus: Record<number, number> = {};
      for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
      assert.deepEqual(byStatus, { 200: 1000 }, "answers by status");
      const slowest = Math.max(...answers.map((a) => a.ms));
      assert.ok(slowest < 3000, `every answer within WEBHOOK_TIMEOUT_MS (3000 ms); slowest ${slowest} ms`);

      const [stored] = await db.query<{ events: number; deliveries: number; outbox: number }>(
        `SELECT (SELECT count(*) FROM delivery_events WHERE source = 'relay' AND delivery_id = ANY($1))::int AS events,
                (SELECT count(*) FROM deliveries WHERE delivery_id = ANY($1) AND event_count = 1)::int AS deliveries,
                (SELECT count(*) FROM outbox WHERE delivery_id = ANY($1))::int AS outbox`,
        [ids],
      );
      assert.deepEqual(stored, { events: 1000, deliveries: 1000, outbox: 1000 }, "each call stored, applied and queued once");

      await waitFor("all 1,000 delivered", async () => {
        const [r] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status = 'delivered'");
        return r!.n === 1000;
      }, 30_000, 100);
      await new Promise((r) => setTimeout(r, 1500)); // more cron ticks: nothing may go out again
      const sent = fake.accepted.slice(before).map((r) => (r.body as { delivery_id?: string }).delivery_id).filter((id) => ids.includes(id!));
      assert.equal(sent.length, 1000, "each sent once");
      assert.equal(new Set(sent).size, 1000);
      await assertConsistent(db);
    } finally {
      one.proc.child.kill("SIGTERM");
      assert.equal(await one.proc.exited, 0);
      await db.drop();
    }
  });
});

describe("several instances", () => {
  it("three instances on one database store every webhook once and deliver every outbox row exactly once", async () => {
    const db = await createTestDatabase();
    const instances = [await startInstance(db), await startInstance(db), await startInstance(db)];
    try {
      const events = Array.from({ length: 300 }, (_, i) =>
        messageEvent({ objectType: "sms", metric: ["sent", "delivered", "clicked"][i % 3]!, deliveryId: `multi-${Math.floor(i / 3)}`, timestamp: 1_700_000_000 + (i % 3) }),
      );
      // Every event goes to two different instances at once: a retry racing its original elsewhere.
      const statuses = await Promise.all(events.flatMap((e, i) => [sendWebhook(instances[i % 3]!.url, e), sendWebhook(instances[(i + 1) % 3]!.url, e)]));
      assert.ok(statuses.every((s) => s === 200), "all answered 200");
      const [{ n }] = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery_events")) as [{ n: number }];
      assert.equal(n, 300);
      await waitForProjection(db);
      const rows = await db.query<{ status: string; event_count: number }>("SELECT status, event_count FROM deliveries WHERE delivery_id LIKE 'multi-%'");
      assert.equal(rows.length, 100);
      assert.ok(rows.every((r) => r.status === "clicked" && r.event_count === 3));

      const before = fake.accepted.length;
      const ids = Array.from({ length: 150 }, () => deliveryId());
      const relayed = await Promise.all(ids.map((id, i) => postJson(instances[i % 3]!.url, "/api/v1/metrics", { delivery_id: id, metric: "delivered", timestamp: 1_700_000_000 })));
      assert.ok(relayed.every((s) => s === 200));
      await waitFor("all delivered", async () => {
        const [r] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status = 'delivered'");
        return r!.n === 150;
      }, 30_000, 100);
      await new Promise((r) => setTimeout(r, 1500)); // a few more cron ticks on every instance
      const sent = fake.accepted.slice(before).map((r) => (r.body as { delivery_id: string }).delivery_id).filter((id) => ids.includes(id));
      assert.equal(sent.length, 150, "each row sent exactly once");
      assert.equal(new Set(sent).size, 150);
      const attempts = await db.query<{ attempts: number }>("SELECT DISTINCT attempts FROM outbox");
      assert.deepEqual(attempts, [{ attempts: 1 }], "no row claimed twice");
      await assertConsistent(db);
    } finally {
      for (const i of instances) i.proc.child.kill("SIGTERM");
      for (const i of instances) assert.equal(await i.proc.exited, 0);
      await db.drop();
    }
  });
});

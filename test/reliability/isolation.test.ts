// No busy part starves another: webhooks keep their deadline while the dashboard is loaded in a loop and
// reports are exported, and while a replay rebuilds the projections, against a real service process on
// a durable PostgreSQL with thousands of deliveries of history.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deliveryId, messageEvent, signedHeaders } from "../../scripts/lib/sample-events.js";
import { seedWebhookEvents } from "../../scripts/lib/seed-events.js";
import { replayProjections } from "../../src/events/replay.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startInstance, type ServiceProcess } from "../helpers/process.js";

const KEY = "isolation-key";
const DEADLINE_MS = 3000; // WEBHOOK_TIMEOUT_MS
let db: TestDatabase;
let service: { proc: ServiceProcess; url: string };

before(async () => {
  db = await createTestDatabase();
  await seedWebhookEvents(db.pool, { deliveries: 10_000, prefix: "history", days: 60 });
  service = await startInstance(db.url, { CIO_WEBHOOK_SIGNING_KEYS: KEY, REPORTER_ENABLED: "false", WEBHOOK_TIMEOUT_MS: String(DEADLINE_MS) });
});
after(async () => {
  service.proc.child.kill("SIGTERM");
  await service.proc.exited;
  await db.drop();
});

/** Webhooks from `senders` concurrent senders until `until` resolves; every answer's status and time. */
async function webhookLoad(senders: number, until: Promise<unknown>): Promise<Array<{ status: number; ms: number }>> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const answers: Array<{ status: number; ms: number }> = [];
  await Promise.all(Array.from({ length: senders }, async () => {
    while (!done) {
      const body = JSON.stringify(messageEvent({ objectType: "email", metric: "delivered", deliveryId: deliveryId() }));
      const started = Date.now();
      const res = await fetch(`${service.url}/webhooks/customerio`, { method: "POST", headers: signedHeaders(KEY, body), body }).catch(() => null);
      await res?.arrayBuffer();
      answers.push({ status: res?.status ?? 0, ms: Date.now() - started });
    }
  }));
  return answers;
}

function assertAllInTime(answers: Array<{ status: number; ms: number }>, what: string, t: { diagnostic(m: string): void }): void {
  assert.ok(answers.length > 100, `${answers.length} webhooks sent during ${what}`);
  const failed = answers.filter((a) => a.status !== 200);
  assert.deepEqual(failed, [], `every webhook answered 200 during ${what}`);
  const times = answers.map((a) => a.ms).sort((a, b) => a - b);
  const slowest = times[times.length - 1]!;
  t.diagnostic(`${answers.length} webhooks during ${what}: p50 ${times[Math.floor(times.length / 2)]} ms, p99 ${times[Math.floor(times.length * 0.99)]} ms, slowest ${slowest} ms`);
  assert.ok(slowest < DEADLINE_MS, `every webhook within ${DEADLINE_MS} ms during ${what}; slowest ${slowest} ms`);
}

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86400_000).toISOString().slice(0, 10);

describe("isolation", () => {
  it("keeps every webhook within its deadline while the dashboard and report exports are loaded in a loop", async (t) => {
    const readers = (async () => {
      let loads = 0;
      const deadline = Date.now() + 6000;
      await Promise.all(Array.from({ length: 4 }, async (_, i) => {
        while (Date.now() < deadline) {
          // The whole seeded history: every query of the dashboard has thousands of rows to read.
          const range = `from=${day(-70)}&to=${day(0)}`;
          const path = i % 2 ? `/reports?${range}` : `/reports/api/funnel?format=csv&group_by=day,origin&${range}`;
          const res = await fetch(`${service.url}${path}`);
          await res.arrayBuffer();
          assert.equal(res.status, 200, path);
          loads++;
        }
      }));
      return loads;
    })();
    const answers = await webhookLoad(6, readers);
    const loads = await readers;
    t.diagnostic(`${loads} dashboard loads and exports`);
    assert.ok(loads > 8, "the dashboard and exports were loaded again and again");
    assertAllInTime(answers, "dashboard loads", t);
  });

  it("keeps every webhook within its deadline while a replay rebuilds 40,000 events' projections", async (t) => {
    const pg = (await import("pg")).default;
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      const replay = replayProjections(pool, { chunkSize: 500 });
      const answers = await webhookLoad(6, replay);
      const report = await replay;
      assert.ok(report.events >= 40_000, `replayed ${report.events} events`);
      assert.equal(report.deliveries.changed + report.deliveries.added + report.deliveries.removed, 0, "and found nothing to repair");
      assertAllInTime(answers, "the replay", t);
    } finally {
      await pool.end();
    }
  });
});

// Under load, PostgreSQL itself is stopped for 10 s and started again (its own cluster, so nothing else
// is disturbed): every answer during the outage is a 503 in under a second, the service recovers by
// itself, and every acknowledged event is stored and applied.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { migrate } from "../../src/core/database.js";
import { unevenDeliveries, waitForProjection } from "../helpers/database.js";
import { EmbeddedPostgres } from "../../src/core/embedded-postgres.js";
import { DATA_DIR } from "../../src/core/paths.js";
import { freePort } from "../helpers/process.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

const dir = path.join(DATA_DIR, `restart-test-${process.pid}`);
let cluster: EmbeddedPostgres;
let url: string;
let svc: TestService;

before(async () => {
  cluster = new EmbeddedPostgres({ dir, port: await freePort(), database: "cio", settings: { fsync: "off" } });
  url = await cluster.start();
  await migrate(url);
  svc = await startTestService(url);
});
after(async () => {
  await svc.stop();
  await cluster.destroy();
});

interface Answer {
  eventId: string;
  status: number;
  ms: number;
  at: number;
}

describe("database restart", () => {
  it("answers 503 in under a second while PostgreSQL is down, recovers by itself, and loses nothing acknowledged", async () => {
    const answers: Answer[] = [];
    let stop = false;
    const loop = async () => {
      while (!stop) {
        const event = messageEvent({ objectType: "email", metric: "delivered", deliveryId: deliveryId() });
        const started = performance.now();
        const res = await svc.webhook(event, { wait: false });
        answers.push({ eventId: event["event_id"] as string, status: res.status, ms: performance.now() - started, at: Date.now() });
        if (res.status !== 200) await new Promise((r) => setTimeout(r, 20)); // a sender backing off a little
      }
    };
    const loops = Array.from({ length: 4 }, loop);

    await waitFor("traffic flowing", () => answers.filter((a) => a.status === 200).length > 100);
    const down = Date.now();
    await cluster.stop();
    await new Promise((r) => setTimeout(r, 10_000));
    const restarting = Date.now();
    await cluster.start();
    const upAgain = Date.now();
    await waitFor("recovered", () => answers.some((a) => a.at > upAgain && a.status === 200), 15_000);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(loops);

    const during = answers.filter((a) => a.at > down + 1000 && a.at < restarting);
    assert.ok(during.length > 20, `traffic kept coming during the outage (${during.length} answers)`);
    assert.deepEqual([...new Set(during.map((a) => a.status))], [503], "every answer during the outage is a 503");
    const slowest = Math.max(...answers.filter((a) => a.status !== 200).map((a) => a.ms));
    assert.ok(slowest < 1000, `every 503 within a second (slowest ${slowest.toFixed(0)} ms)`);
    assert.ok(answers.every((a) => a.status === 200 || a.status === 503), "only 200 or 503");

    const acked = answers.filter((a) => a.status === 200).map((a) => a.eventId);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ event_id: string }>("SELECT event_id FROM delivery_events WHERE event_id = ANY($1)", [acked]);
      assert.equal(rows.length, acked.length, `all ${acked.length} acknowledged events stored`);
      const reader = { query: async <T,>(sql: string) => (await client.query(sql)).rows as T[] };
      await waitForProjection(reader);
      assert.deepEqual(await unevenDeliveries(reader), [], "every stored event applied to its delivery once");
    } finally {
      await client.end();
    }
  });
});

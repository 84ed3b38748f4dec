// The deliveries and person_subscriptions rows must be a function of the *set* of events: the same
// events, duplicated, in any order, in any batching (one per statement, several per statement, or
// concurrent requests through the real group commit), give the same rows.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import pg from "pg";
import { normalizeEvent, type JsonObject } from "../../src/events/event.js";
import { writeBatch } from "../../src/events/event-store.js";
import { applyQueued, drainQueue } from "../../src/events/projector.js";
import { ensurePartitions } from "../../src/events/partitions.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService } from "../helpers/service.js";

let db: TestDatabase;
let pool: pg.Pool;
before(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // writeBatch is the bare statement: the partitions of the events' months must exist (EventStore
  // would create them on demand).
  await ensurePartitions(pool, [1_700_000_000_000, 1_800_000_000_000]);
});
after(async () => {
  await pool.end();
  await db.drop();
});

const METRICS = ["sent", "delivered", "opened", "clicked", "converted", "bounced", "failed", "attempted", "spammed", "unsubscribed", "deferred", "mystery"];

interface Spec {
  kind: "message" | "person";
  metric: string;
  offset: number; // seconds; small range so ties are common
  failure: string | null;
  machine: boolean;
  email: string;
  campaign: number;
  recipient: string | null;
}

const specArb = fc.record<Spec>({
  kind: fc.constantFrom("message", "message", "message", "person"),
  metric: fc.constantFrom(...METRICS),
  offset: fc.integer({ min: 0, max: 6 }),
  failure: fc.option(fc.constantFrom("550 no such user", "timeout", "Mailbox full"), { nil: null }),
  machine: fc.boolean(),
  email: fc.constantFrom("a@example.com", "b@example.com"),
  campaign: fc.constantFrom(12, 13),
  recipient: fc.option(fc.constantFrom("a@example.com", "b@example.com"), { nil: null }),
});

const PERSON_METRICS = ["subscribed", "unsubscribed", "cio_subscription_preferences_changed"];

/** Builds the raw event for one spec, under a tag that keeps each ordering's rows apart. */
function build(spec: Spec, index: number, tag: string): { raw: string; event: JsonObject } {
  const eventId = `e${String(index).padStart(3, "0")}-${tag}`;
  const timestamp = 1_700_000_000 + spec.offset;
  const event =
    spec.kind === "person"
      ? {
          event_id: eventId,
          object_type: "customer",
          metric: PERSON_METRICS[index % 3],
          timestamp,
          data: {
            identifiers: { id: "42", email: spec.email, cio_id: `cio-${tag}` },
            email_address: spec.email,
            content: JSON.stringify({ topic: spec.machine }),
          },
        }
      : {
          event_id: eventId,
          object_type: spec.metric === "deferred" ? null : "email",
          metric: spec.metric,
          timestamp,
          data: {
            delivery_id: `d-${tag}`,
            campaign_id: spec.campaign,
            identifiers: { id: "42", email: spec.email },
            ...(spec.recipient ? { recipient: spec.recipient } : {}),
            ...(spec.failure ? { failure_message: spec.failure } : {}),
            ...(spec.metric === "opened" ? { prefetched: spec.machine } : {}),
            ...(spec.metric === "clicked" ? { machine: spec.machine } : {}),
          },
        };
  const raw = JSON.stringify(event);
  return { raw, event: event as JsonObject };
}

const normalized = (spec: Spec, index: number, tag: string) => {
  const { raw, event } = build(spec, index, tag);
  return { event: normalizeEvent(event, raw, "webhook", 1_800_000_000_000) };
};

async function rowsFor(tag: string): Promise<{ delivery: unknown; person: unknown }> {
  const strip = (v: unknown) => JSON.parse(JSON.stringify(v ?? null).replaceAll(`-${tag}`, "-TAG"));
  const [delivery] = await db.query("SELECT * FROM deliveries WHERE delivery_id = $1", [`d-${tag}`]);
  const [person] = await db.query("SELECT * FROM person_subscriptions WHERE person_key = $1", [`cio_id:cio-${tag}`]);
  for (const row of [delivery, person]) if (row) delete row["updated_at"];
  return { delivery: strip(delivery), person: strip(person) };
}

let runs = 0;

describe("order independence", () => {
  it("gives the same rows for any order, duplication and batching of the same events", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(specArb, { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 10 }), // which events are delivered again (duplicates)
        fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), // shuffle keys
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 10 }), // batch sizes
        async (specs, dupes, keys, sizes) => {
          runs++;
          const indexed = specs.map((spec, i) => ({ spec, i }));
          const withDupes = [...indexed, ...dupes.map((d) => indexed[d % indexed.length]!)];

          // A: as generated, one event per statement.
          const a = `a${runs}`;
          for (const { spec, i } of withDupes) await writeBatch(pool, [normalized(spec, i, a)]);

          // B: shuffled, in batches of random sizes (duplicates inside a batch too).
          const b = `b${runs}`;
          const shuffled = withDupes.map((x, k) => ({ x, key: keys[k % keys.length]! * 1000 + k })).sort((p, q) => p.key - q.key).map((p) => p.x);
          for (let start = 0, s = 0; start < shuffled.length; s++) {
            const size = sizes[s % sizes.length]!;
            await writeBatch(pool, shuffled.slice(start, start + size).map(({ spec, i }) => normalized(spec, i, b)));
            start += size;
          }

          // C: reversed, all in one statement.
          const c = `c${runs}`;
          await writeBatch(pool, [...withDupes].reverse().map(({ spec, i }) => normalized(spec, i, c)));

          // D: the webhook path: shuffled batches queued, and the projector applying batches of other
          // random sizes in between (and what is left at the end).
          const d = `d${runs}`;
          for (let start = 0, s = 0; start < shuffled.length; s++) {
            const size = sizes[s % sizes.length]!;
            await writeBatch(pool, shuffled.slice(start, start + size).map(({ spec, i }) => normalized(spec, i, d)), { queue: true });
            await applyQueued(pool, sizes[(s + 1) % sizes.length]!);
            start += size;
          }
          await drainQueue(pool);

          const [ra, rb, rc, rd] = [await rowsFor(a), await rowsFor(b), await rowsFor(c), await rowsFor(d)];
          assert.deepEqual(rb, ra);
          assert.deepEqual(rc, ra);
          assert.deepEqual(rd, ra);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("gives the same rows through concurrent HTTP requests (group commit) as one by one", async () => {
    const svc = await startTestService(db.url, { INGEST_MAX_IN_FLIGHT: "2" });
    try {
      const specs = fc.sample(specArb, { numRuns: 120, seed: 42 });
      const sequentialTag = "seq";
      for (const [i, spec] of specs.entries()) await writeBatch(pool, [normalized(spec, i, sequentialTag)]);

      const concurrentTag = "http";
      const bodies = specs.map((spec, i) => build(spec, i, concurrentTag).event);
      const twice = [...bodies, ...bodies.slice(0, 40)].reverse(); // duplicates racing their originals
      // Not waiting for each: the projector applies batches while the others are still arriving.
      const results = await Promise.all(twice.map((body) => svc.webhook(body, { wait: false })));
      assert.ok(results.every((r) => r.status === 200), JSON.stringify(results.find((r) => r.status !== 200)));
      await svc.service.projector.drain();

      assert.deepEqual(await rowsFor(concurrentTag), await rowsFor(sequentialTag));
      const [{ count }] = (await db.query<{ count: string }>("SELECT count(*) FROM delivery_events WHERE event_id LIKE '%-http'")) as [{ count: string }];
      assert.equal(Number(count), specs.length, "each event stored once");
    } finally {
      await svc.stop();
    }
  });
});

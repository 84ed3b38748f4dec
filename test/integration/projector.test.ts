// The asynchronous projection: a webhook is answered once its event and its projection_queue row are
// committed, and the projector folds the queue into deliveries and person_subscriptions exactly once,
// whichever process applies it, with replay and erasure aware of what is still queued.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { customerEvent, deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { applyQueued, drainQueue } from "../../src/events/projector.js";
import { replayProjections } from "../../src/events/replay.js";
import { erasePerson, seedOf } from "../../src/privacy/erase.js";
import { createTestDatabase, unevenDeliveries, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

let db: TestDatabase;
let svc: TestService;
// A projector that runs only when asked: the queued state can be looked at before it is applied.
const HELD = { PROJECTION_INTERVAL_MS: "60000" };

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url, HELD);
  // Once the start-up run is over, the next run waits a minute.
  await waitFor("the projector's start-up run", () => svc.service.projector.stats.runs >= 1);
});
after(async () => {
  await svc.stop();
  await db.drop();
});

const queued = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM projection_queue"))[0]!.n;
const deliveryOf = async (id: string) => (await db.query<{ status: string; event_count: number }>("SELECT status, event_count FROM deliveries WHERE delivery_id = $1", [id]))[0];

describe("the projector", () => {
  it("answers a webhook once its event is stored and queued, and applies it to the delivery afterwards", async () => {
    const id = deliveryId();
    for (const metric of ["sent", "delivered", "opened"]) {
      assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric, deliveryId: id }), { wait: false })).status, 200);
    }
    assert.equal((await db.query("SELECT 1 FROM delivery_events WHERE delivery_id = $1", [id])).length, 3, "stored before the answer");
    assert.equal(await queued(), 3, "and queued");
    assert.equal(await deliveryOf(id), undefined, "not applied yet: the projector is held");
    // A retry of an event already stored queues nothing.
    const retry = messageEvent({ objectType: "email", metric: "clicked", deliveryId: id });
    await svc.webhook(retry, { wait: false });
    await svc.webhook(retry, { wait: false });
    assert.equal(await queued(), 4);

    await svc.service.projector.drain();
    assert.equal(await queued(), 0);
    assert.deepEqual(await deliveryOf(id), { status: "clicked", event_count: 4 });
  });

  it("applies each queued event exactly once while several projectors race, in batches of any size", async () => {
    const ids = Array.from({ length: 400 }, () => deliveryId());
    const events = ids.flatMap((id, i) => ["sent", "delivered", "opened", "clicked"].slice(0, 1 + (i % 4)).map((metric) => messageEvent({ objectType: "email", metric, deliveryId: id })));
    const answers = await Promise.all(events.map((e) => svc.webhook(e, { wait: false })));
    assert.ok(answers.every((a) => a.status === 200));
    assert.equal(await queued(), events.length);

    // Three other processes' projectors, as on three instances, with small batches so they interleave.
    const pools = Array.from({ length: 3 }, () => new pg.Pool({ connectionString: db.url, max: 2 }));
    try {
      const applied = await Promise.all(pools.map(async (pool, k) => {
        let n = 0;
        for (let got = -1; got !== 0; ) n += got = await applyQueued(pool, 7 + k * 13);
        return n;
      }));
      await drainQueue(db.pool);
      assert.ok(applied.filter((n) => n > 0).length >= 2, `several projectors took part: ${applied.join(", ")}`);
      assert.equal(applied.reduce((a, b) => a + b, 0), events.length, "every queued event applied once in all");
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    assert.deepEqual(await unevenDeliveries(db), []);
    const rows = await db.query<{ event_count: number }>("SELECT event_count FROM deliveries WHERE delivery_id = ANY($1) ORDER BY delivery_id", [ids]);
    assert.equal(rows.reduce((a, r) => a + r.event_count, 0), events.length);
  });

  it("replay leaves queued events to the projector, so none is counted twice", async () => {
    const id = deliveryId();
    await svc.webhook(messageEvent({ objectType: "sms", metric: "sent", deliveryId: id }));
    for (const metric of ["delivered", "clicked"]) await svc.webhook(messageEvent({ objectType: "sms", metric, deliveryId: id }), { wait: false });
    assert.equal(await queued(), 2);

    const report = await replayProjections(db.pool, {});
    assert.deepEqual([report.deliveries.added, report.deliveries.removed, report.deliveries.changed], [0, 0, 0], "the live rows agree with the events applied so far");
    await svc.service.projector.drain();
    assert.deepEqual(await deliveryOf(id), { status: "clicked", event_count: 3 });
    const again = await replayProjections(db.pool, { dryRun: true });
    assert.deepEqual([again.deliveries.added, again.deliveries.removed, again.deliveries.changed], [0, 0, 0], JSON.stringify(again.deliveries.columns));
  });

  it("erasure applies what is queued first, so a person's newest delivery is found and scrubbed", async () => {
    const person = { id: "queued-person", email: "queued.person@example.com", cioId: "cio-queued" };
    const id = deliveryId();
    await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: id, person }), { wait: false });
    await svc.webhook(customerEvent("unsubscribed", { person }), { wait: false });
    assert.equal(await queued(), 2);

    const result = await erasePerson(db.pool, "erasure-secret-for-tests", seedOf({ kind: "email", value: person.email }));
    assert.equal(result.deliveries, 1, "the delivery that was only queued is found");
    assert.equal(await queued(), 0);
    const [row] = await db.query("SELECT recipient, customer_id, identifiers, event_count FROM deliveries WHERE delivery_id = $1", [id]);
    assert.deepEqual(row, { recipient: null, customer_id: null, identifiers: null, event_count: 1 });
    assert.deepEqual(await db.query("SELECT 1 FROM person_subscriptions WHERE email = $1", [person.email]), []);
  });

  it("a graceful stop applies what this instance queued", async () => {
    const other = await startTestService(db.url, HELD);
    await waitFor("the projector's start-up run", () => other.service.projector.stats.runs >= 1);
    const id = deliveryId();
    await other.webhook(messageEvent({ objectType: "push", metric: "sent", deliveryId: id }), { wait: false });
    assert.equal(await queued(), 1);
    await other.stop();
    assert.equal(await queued(), 0);
    assert.deepEqual(await deliveryOf(id), { status: "sent", event_count: 1 });
  });
});

describe("an event PostgreSQL refuses to apply", () => {
  it("is applied without its person fields, and the events queued behind it are applied as usual", async () => {
    const first = deliveryId();
    const after = deliveryId();
    await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: first }), { wait: false });
    // A person key ingestion would have bounded (as if written by an older version): 12 KB that do not
    // compress, too large for the btree of person_subscriptions' key.
    const huge = Array.from({ length: 1500 }, () => Math.random().toString(36).slice(2, 10)).join("");
    await db.query(
      `INSERT INTO projection_queue (event_id, delivery_id, metric, occurred_ms, received_ms, source, channel, person_key, email, preferences)
       VALUES ('poison-1', $1, 'subscribed', $2, $2, 'webhook', 'email', $3, 'poison@example.com', '{"topic_1": true}')`,
      [first, Date.now(), huge],
    );
    await svc.webhook(messageEvent({ objectType: "email", metric: "delivered", deliveryId: after }), { wait: false });
    assert.equal(await queued(), 3);

    // Another instance, whose projector runs at once.
    const live = await startTestService(db.url);
    try {
      await waitFor("the queue applied", async () => (await queued()) === 0);
    } finally {
      await live.stop();
    }
    assert.deepEqual(await deliveryOf(after), { status: "delivered", event_count: 1 }, "the event behind it is applied");
    assert.deepEqual(await deliveryOf(first), { status: "sent", event_count: 2 }, "it counts in its delivery");
    assert.deepEqual(await db.query("SELECT 1 FROM person_subscriptions WHERE email = 'poison@example.com'"), [], "its person fields were cleared");
  });
});

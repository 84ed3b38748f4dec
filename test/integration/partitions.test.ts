// Time partitions of delivery_events: a retry lands in its first copy's partition whenever it comes,
// events of any month find (or get) a partition, retention drops whole months without changing a
// delivery or a report, replay leaves alone what retention took the events of, and the outbox is purged.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { customerEvent, deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { createLogger } from "../../src/core/logger.js";
import { listPartitions } from "../../src/events/partitions.js";
import { replayProjections } from "../../src/events/replay.js";
import { runMaintenance } from "../../src/maintenance/maintenance.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";

let db: TestDatabase;
let svc: TestService;
const log = createLogger("silent");

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url);
});
after(async () => {
  await svc.stop();
  await db.drop();
});

const utc = (iso: string) => Math.floor(Date.parse(iso) / 1000);

describe("partitions", () => {
  it("stores a retry that arrives after a partition boundary once, in its first copy's partition", async () => {
    const id = deliveryId();
    // The event happened a second before November; it is received in another month (now), and so is
    // its retry: the arrival time is not part of the event's key, its own time is.
    const event = messageEvent({ objectType: "email", metric: "delivered", deliveryId: id, timestamp: utc("2025-10-31T23:59:59Z") });
    assert.deepEqual((await svc.webhook(event)).json, { ok: true, event_id: event["event_id"], duplicate: false });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await svc.webhook(event)).json["duplicate"], true);
    const rows = await db.query<{ partition: string }>("SELECT tableoid::regclass::text AS partition FROM delivery_events WHERE event_id = $1", [event["event_id"]]);
    assert.deepEqual(rows, [{ partition: "delivery_events_202510" }]);
    assert.equal((await db.query("SELECT event_count FROM deliveries WHERE delivery_id = $1", [id]))[0]?.["event_count"], 1);
  });

  it("dates an event without a timestamp by its ULID, so a retry days later is still the same event", async () => {
    const ulid = "01E4C4CT6YDC7Y5M7FE1GWWPQK";
    const event = { event_id: ulid, object_type: "email", metric: "opened", data: { delivery_id: deliveryId() } };
    assert.equal((await svc.webhook(event)).json["duplicate"], false);
    assert.equal((await svc.webhook(event)).json["duplicate"], true);
    const [row] = await db.query<{ occurred_at: Date; partition: string }>("SELECT occurred_at, tableoid::regclass::text AS partition FROM delivery_events WHERE event_id = $1", [ulid]);
    assert.deepEqual(row, { occurred_at: new Date("2020-03-26T19:16:39.774Z"), partition: "delivery_events_202003" });
  });

  it("creates the partition of a month that has none when its first event arrives, and takes times before 2000 and after 2100", async () => {
    const before = (await listPartitions(db.pool)).map((p) => p.name);
    assert.ok(!before.includes("delivery_events_201905"));
    for (const ts of [utc("2019-05-15T12:00:00Z"), 86400, utc("2150-01-01T00:00:00Z")]) {
      const res = await svc.webhook(messageEvent({ objectType: "sms", metric: "sent", deliveryId: deliveryId(), timestamp: ts }));
      assert.equal(res.status, 200, JSON.stringify(res.json));
    }
    assert.ok((await listPartitions(db.pool)).some((p) => p.name === "delivery_events_201905"));
    const where = await db.query<{ p: string }>("SELECT DISTINCT tableoid::regclass::text AS p FROM delivery_events WHERE occurred_at < '2000-01-01' OR occurred_at >= '2100-01-01' ORDER BY 1");
    assert.deepEqual(where.map((r) => r.p), ["delivery_events_before_2000", "delivery_events_from_2100"]);
  });
});

describe("retention", () => {
  it("drops whole months of events while deliveries, people and the reports keep their numbers; replay leaves them be", async () => {
    const own = await createTestDatabase();
    const local = await startTestService(own.url);
    try {
      const now = Date.parse("2026-12-03T12:00:00Z");
      // Deliveries sent in June (their later events in June too), and others in November.
      const old = Array.from({ length: 5 }, () => deliveryId());
      const recent = Array.from({ length: 5 }, () => deliveryId());
      for (const [ids, month] of [[old, "2026-06-10"], [recent, "2026-11-10"]] as const) {
        for (const id of ids) {
          for (const [i, metric] of ["sent", "delivered", "opened", "clicked"].entries()) {
            assert.equal((await local.webhook(messageEvent({ objectType: "email", metric, deliveryId: id, timestamp: utc(`${month}T10:0${i}:00Z`) }))).status, 200);
          }
        }
      }
      // A late open in November for a June delivery: its row was built from events retention will drop.
      assert.equal((await local.webhook(messageEvent({ objectType: "email", metric: "opened", deliveryId: old[0]!, timestamp: utc("2026-11-20T10:00:00Z") }))).status, 200);
      assert.equal((await local.webhook(customerEvent("unsubscribed", { timestamp: utc("2026-06-11T00:00:00Z"), cioId: "retained-person" }))).status, 200);

      const snapshot = async () => ({
        deliveries: await own.query("SELECT * FROM deliveries ORDER BY delivery_id"),
        people: await own.query("SELECT * FROM person_subscriptions ORDER BY person_key"),
        rollup: await own.query("SELECT * FROM delivery_stats_daily ORDER BY day, channel, origin_type, origin_id, action_id"),
        funnel: await (await fetch(`${local.adminUrl}/reports/api/funnel?from=2026-06-01&to=2026-11-30&group_by=day`)).json(),
      });
      const before = await snapshot();

      const report = await runMaintenance(own.pool, { eventRetentionDays: 120, outboxRetentionDays: 30 }, log, now);
      assert.ok(report.ran);
      assert.ok(report.partitionsDropped.includes("delivery_events_202606"), `dropped ${report.partitionsDropped.join(", ")}`);
      assert.ok(!report.partitionsDropped.includes("delivery_events_202608"), "August is within 120 days");
      assert.deepEqual(await own.query("SELECT count(*)::int AS n FROM delivery_events WHERE occurred_at < '2026-07-01'"), [{ n: 0 }]);
      assert.deepEqual(await snapshot(), before, "deliveries, people, the rollup and the funnel are unchanged");

      const replay = await replayProjections(own.pool);
      assert.equal(replay.deliveries.changed + replay.deliveries.removed + replay.deliveries.added, 0, JSON.stringify(replay.deliveries));
      assert.equal(replay.people.removed, 0, "a person whose events were dropped keeps their row");
      assert.deepEqual(await snapshot(), before, "and replay leaves them as they are");
    } finally {
      await local.stop();
      await own.drop();
    }
  });

  it("purges delivered and superseded outbox rows older than OUTBOX_RETENTION_DAYS, and keeps dead letters and pending rows", async () => {
    const own = await createTestDatabase();
    try {
      await own.query(`INSERT INTO outbox (kind, payload, status, updated_at) VALUES
        ('metric', '{}', 'delivered', now() - interval '40 days'), ('metric', '{}', 'superseded', now() - interval '40 days'),
        ('metric', '{}', 'delivered', now() - interval '5 days'), ('metric', '{}', 'dead', now() - interval '40 days'), ('metric', '{}', 'pending', now() - interval '40 days')`);
      const report = await runMaintenance(own.pool, { eventRetentionDays: null, outboxRetentionDays: 30 }, log);
      assert.equal(report.outboxPurged, 2);
      assert.deepEqual((await own.query<{ status: string }>("SELECT status FROM outbox ORDER BY status")).map((r) => r.status), ["dead", "delivered", "pending"]);
    } finally {
      await own.drop();
    }
  });

  it("runs on one instance at a time", async () => {
    const locker = await db.pool.connect();
    try {
      await locker.query("SELECT pg_advisory_lock(hashtext('cio-companion:maintenance'))");
      const report = await runMaintenance(db.pool, { eventRetentionDays: 31, outboxRetentionDays: 30 }, log);
      assert.equal(report.ran, false, "another instance holds the lock: this one skips the round");
    } finally {
      await locker.query("SELECT pg_advisory_unlock(hashtext('cio-companion:maintenance'))");
      locker.release();
    }
  });
});

// Real peers of the Data Pipelines relay: Customer.io's own Data Pipelines client for Node,
// @customerio/cdp-analytics-node, run unchanged against our /v1 with its `host` option; our own calls
// sent to the (fake) Data Pipelines API under REPORTER_TRANSPORT=pipelines; and replay rebuilding a
// Data Pipelines metric's projection from its stored payload.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Analytics } from "@customerio/cdp-analytics-node";
import { FakePipelines, type PipelinesEvent } from "../../scripts/lib/fake-pipelines.js";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { replayProjections } from "../../src/events/replay.js";
import { erasePerson, seedOf } from "../../src/privacy/erase.js";
import { anonymousIdFor, ownMessageId } from "../../src/reporter/outbox-sender.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

const WRITE_KEY = "wk-app-source-51c0d2e7";
const OWN_KEY = "wk-companion-source-9a44e1b3";
const ENV = { REPORTER_SCHEDULE: "* * * * * *", REPORTER_BACKOFF_BASE_MS: "50", REPORTER_BACKOFF_MAX_MS: "200", CIO_TIMEOUT_MS: "1000" };

let fake: FakePipelines;
before(async () => {
  fake = await FakePipelines.start({ writeKeys: [WRITE_KEY, OWN_KEY] });
});
after(async () => {
  await fake.close();
});

const forwarded = (messageIds: string[]): Promise<PipelinesEvent[]> =>
  waitFor(`the fake has ${messageIds.join(", ")}`, () => (messageIds.every((m) => fake.event(m)) ? messageIds.map((m) => fake.event(m)!) : null));

describe("the official Data Pipelines client, unchanged", () => {
  let db: TestDatabase;
  let svc: TestService;
  before(async () => {
    db = await createTestDatabase();
    svc = await startTestService(db.url, { ...ENV, CIO_CDP_URL: fake.apiUrl, PIPELINES_WRITE_KEYS: WRITE_KEY });
  });
  after(async () => {
    await svc.stop();
    await db.drop();
  });

  it("pointed at us with `host`: its track, identify and batched calls are stored and forwarded with their messageIds", async () => {
    const delivery = deliveryId();
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: svc.url, maxEventsInBatch: 3, flushInterval: 60_000, maxRetries: 0 });
    const failures: unknown[] = [];
    analytics.on("error", (err) => failures.push(err));
    analytics.identify({ userId: "person-7", traits: { email: "seven@example.com" }, messageId: "official-identify-1" });
    analytics.track({ userId: "person-7", event: "Report Delivery Event", properties: { deliveryId: delivery, metric: "delivered", recipient: "apns-token-7" }, messageId: "official-metric-1" });
    analytics.track({ userId: "person-7", event: "Checkout Started", properties: { total: 12.5 } });
    await analytics.closeAndFlush({ timeout: 10_000 });
    assert.deepEqual(failures, []);

    // One /v1/batch of three calls, as the client sends them: stored before the 200, then forwarded.
    const rows = await db.query<{ call: Record<string, unknown>; status: string }>("SELECT payload->'call' AS call, status FROM outbox WHERE kind = 'cdp_call' ORDER BY id");
    assert.equal(rows.length, 3);
    const generated = String(rows.find((r) => r.call["event"] === "Checkout Started")!.call["messageId"]);
    assert.ok(generated.length > 0 && !generated.startsWith("cio-companion"), `the client's own messageId is kept (${generated})`);
    const [row] = await db.query("SELECT status, delivered_at FROM deliveries WHERE delivery_id = $1", [delivery]);
    assert.equal(row?.["status"], "delivered");
    const events = await forwarded(["official-identify-1", "official-metric-1", generated]);
    assert.deepEqual(events.map((e) => [e.writeKey, e.call["type"]]), [[WRITE_KEY, "identify"], [WRITE_KEY, "track"], [WRITE_KEY, "track"]]);
    assert.equal((events[1]!.call["properties"] as { deliveryId: string }).deliveryId, delivery);
    assert.equal((events[0]!.call["context"] as { library?: { name?: string } }).library?.name, "@customerio/cdp-analytics-node", "the client's context is forwarded as it sent it");
  });

  it("with a write key we do not accept, its calls fail and nothing is stored", async () => {
    const before = (await db.query("SELECT count(*)::int AS n FROM outbox"))[0]!["n"];
    const analytics = new Analytics({ writeKey: "not-listed", host: svc.url, maxEventsInBatch: 1, maxRetries: 0 });
    const failures: unknown[] = [];
    analytics.on("error", (err) => failures.push(err));
    analytics.track({ userId: "p", event: "E" });
    await analytics.closeAndFlush({ timeout: 10_000 });
    assert.equal(failures.length, 1);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM outbox"))[0]!["n"], before);
  });
});

describe("REPORTER_TRANSPORT=pipelines", () => {
  let db: TestDatabase;
  let svc: TestService;
  before(async () => {
    db = await createTestDatabase();
    svc = await startTestService(db.url, {
      ...ENV,
      CIO_CDP_URL: fake.apiUrl,
      REPORTER_TRANSPORT: "pipelines",
      CIO_CDP_WRITE_KEY: OWN_KEY,
      UNSUBSCRIBE_ATTRIBUTES: '{"newsletter": false}',
    });
  });
  after(async () => {
    await svc.stop();
    await db.drop();
  });

  const ownRow = (deliveryId: string, kind: string) =>
    waitFor(`the ${kind} row of ${deliveryId} delivered`, async () => {
      const rows = await db.query<{ id: string; event_id: string | null; status: string }>("SELECT id, event_id, status FROM outbox WHERE delivery_id = $1 AND kind = $2", [deliveryId, kind]);
      return rows[0]?.status === "delivered" ? rows[0] : null;
    });

  it("sends a relayed metric to Customer.io as a Report Delivery Event with a messageId derived from its outbox row", async () => {
    const unknownPerson = deliveryId();
    assert.equal((await svc.post("/api/v1/metrics", { delivery_id: unknownPerson, metric: "clicked", timestamp: 1_790_000_000, href: "https://example.com/x" })).status, 200);
    const known = deliveryId();
    assert.equal((await svc.webhook(messageEvent({ objectType: "push", metric: "sent", deliveryId: known, person: { id: "person-99", email: "p99@example.com", cioId: "c99" } }))).status, 200);
    assert.equal((await svc.post("/push/events", { delivery_id: known, event: "opened", device_id: "apns-99", timestamp: 1_790_000_100 })).status, 200);

    const metricRow = await ownRow(unknownPerson, "metric");
    const pushRow = await ownRow(known, "push_event");
    const [metric, push] = await forwarded([ownMessageId(metricRow), ownMessageId(pushRow)]);
    assert.equal(metric!.writeKey, OWN_KEY);
    assert.deepEqual(metric!.call, {
      type: "track",
      event: "Report Delivery Event",
      anonymousId: anonymousIdFor(unknownPerson),
      properties: { deliveryId: unknownPerson, metric: "clicked", href: "https://example.com/x" },
      messageId: ownMessageId(metricRow),
      timestamp: new Date(1_790_000_000_000).toISOString(),
    });
    assert.deepEqual(push!.call, {
      type: "track",
      event: "Report Delivery Event",
      userId: "person-99",
      properties: { deliveryId: known, metric: "opened", recipient: "apns-99" },
      messageId: ownMessageId(pushRow),
      timestamp: new Date(1_790_000_100_000).toISOString(),
    });
  });

  it("sends an unsubscribe's attribute update as an identify call (the unsubscribe itself stays a Track API call)", async () => {
    const id = deliveryId();
    assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: id, person: { id: "person-5", email: "five@example.com", cioId: "c5" } }))).status, 200);
    const res = await fetch(`${svc.url}/unsubscribe/${id}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const row = await waitFor("the identify row delivered", async () => {
      const rows = await db.query<{ id: string; event_id: string | null; status: string }>("SELECT id, event_id, status FROM outbox WHERE kind = 'identify' AND payload->>'customer_id' = 'person-5'");
      return rows[0]?.status === "delivered" ? rows[0] : null;
    });
    const [identify] = await forwarded([ownMessageId(row)]);
    assert.deepEqual({ ...identify!.call, timestamp: undefined }, { type: "identify", userId: "person-5", traits: { newsletter: false }, messageId: ownMessageId(row), timestamp: undefined });
    const [unsubscribe] = await db.query("SELECT kind, last_status FROM outbox WHERE kind = 'unsubscribe' AND delivery_id = $1", [id]);
    assert.equal(unsubscribe?.["kind"], "unsubscribe", "the unsubscribe call is queued for the Track API as before");
  });
});

describe("replay of Data Pipelines metrics", () => {
  it("rebuilds the delivery a Report Delivery Event made, from its stored payload", async () => {
    const db = await createTestDatabase();
    const svc = await startTestService(db.url, { CIO_CDP_URL: fake.apiUrl });
    try {
      const id = deliveryId();
      assert.equal((await svc.webhook(messageEvent({ objectType: "push", metric: "sent", deliveryId: id, timestamp: 1_790_000_000 }))).status, 200);
      const batch = ["delivered", "opened"].map((metric, i) => ({
        type: "track",
        event: "Report Delivery Event",
        anonymousId: "device-1",
        properties: { deliveryId: id, metric, recipient: "token-1" },
        messageId: `replay-${metric}-${id}`,
        timestamp: new Date((1_790_000_010 + i) * 1000).toISOString(),
      }));
      const res = await svc.post("/v1/batch", { batch }, { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}` });
      assert.equal(res.status, 200);
      const good = await db.query("SELECT * FROM deliveries WHERE delivery_id = $1", [id]);
      assert.equal(good[0]?.["status"], "opened");

      const clean = await replayProjections(db.pool);
      assert.deepEqual(clean.deliveries, { before: 1, after: 1, added: 0, removed: 0, changed: 0, columns: {} }, "replay rebuilds exactly what ingestion built");

      await db.query("UPDATE deliveries SET opened_at = NULL, delivered_at = NULL, relay_opens = 0 WHERE delivery_id = $1", [id]);
      const repaired = await replayProjections(db.pool);
      assert.equal(repaired.deliveries.changed, 1);
      const strip = (rows: Array<Record<string, unknown>>) => rows.map(({ updated_at: _u, ...r }) => r);
      assert.deepEqual(strip(await db.query("SELECT * FROM deliveries WHERE delivery_id = $1", [id])), strip(good));
    } finally {
      await svc.stop();
      await db.drop();
    }
  });
});

describe("erasure of relayed Data Pipelines calls", () => {
  it("drops a person's calls not yet forwarded (by userId or traits.email), and empties those sent", async () => {
    const db = await createTestDatabase();
    // No Data Pipelines host reachable: the calls stay pending.
    const svc = await startTestService(db.url, { REPORTER_ENABLED: "false" });
    try {
      const auth = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}` };
      const batch = [
        { type: "identify", userId: "erase-me", traits: { email: "Gone@Example.com" }, messageId: "e1" },
        { type: "identify", anonymousId: "anon-9", traits: { email: "gone@example.com" }, messageId: "e2" },
        { type: "track", userId: "erase-me", event: "Viewed", messageId: "e3" },
        { type: "track", userId: "someone-else", event: "Viewed", messageId: "e4" },
      ];
      assert.equal((await svc.post("/v1/batch", { batch }, auth)).status, 200);
      await db.query("UPDATE outbox SET status = 'delivered' WHERE payload->'call'->>'messageId' = 'e3'");
      await erasePerson(db.pool, "secret", { ...seedOf({ kind: "customer_id", value: "erase-me" }), emails: ["gone@example.com"] });
      const left = await db.query<{ status: string; payload: unknown }>("SELECT status, payload FROM outbox WHERE kind = 'cdp_call' ORDER BY id");
      assert.equal(left.length, 2, "the two pending calls of the person are dropped");
      assert.deepEqual(left.map((r) => r.payload), [{ erased: true }, left[1]!.payload]);
      assert.ok(JSON.stringify(left[1]!.payload).includes("someone-else"));
      assert.ok(!JSON.stringify(left).toLowerCase().includes("gone@example.com"));
    } finally {
      await svc.stop();
      await db.drop();
    }
  });
});

// The Data Pipelines relay (/v1/...) against the fake Data Pipelines API: what the current mobile SDKs
// send is stored, applied and forwarded unchanged (same write key, same messageId), once; invalid
// calls are refused naming each problem and store nothing; the write key is never shown or logged;
// failures delay but lose nothing, and a refused batch dead-letters only its bad call.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, beforeEach, describe, it } from "node:test";
import { FakePipelines, type PipelinesEvent } from "../../scripts/lib/fake-pipelines.js";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { createLogger } from "../../src/core/logger.js";
import { list } from "../../src/reporter/outbox.repository.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

const WRITE_KEY = "wk-secret-2f6c9e1d4b7a";
const OTHER_KEY = "wk-other-8d3a5c0e9f12";
const ENV = { REPORTER_SCHEDULE: "* * * * * *", REPORTER_BACKOFF_BASE_MS: "50", REPORTER_BACKOFF_MAX_MS: "200", CIO_TIMEOUT_MS: "1000" };

let db: TestDatabase;
let fake: FakePipelines;
let svc: TestService;
let logged = "";

before(async () => {
  db = await createTestDatabase();
  fake = await FakePipelines.start({ writeKeys: [WRITE_KEY, OTHER_KEY] });
  const stream = new PassThrough();
  stream.on("data", (chunk: Buffer) => (logged += chunk.toString()));
  svc = await startTestService(db.url, { ...ENV, CIO_CDP_URL: fake.apiUrl }, createLogger("debug", stream));
});
after(async () => {
  await svc.stop();
  await fake.close();
  await db.drop();
});
beforeEach(() => fake.clearFaults());

const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` });
const post = (path: string, body: unknown, key: string | null = WRITE_KEY, headers: Record<string, string> = {}) => svc.post(path, body, { ...(key ? basic(key) : {}), ...headers });
const errorsOf = (json: Record<string, unknown>) => (json["meta"] as { errors: string[] }).errors;
const uid = () => `m-${Math.random().toString(36).slice(2)}`;
const cdpRows = (messageIds: string[]) => db.query<{ status: string; payload: { source: string; call: { messageId: string } }; last_status: number | null; last_error: string | null }>(
  "SELECT status, payload, last_status, last_error FROM outbox WHERE kind = 'cdp_call' AND payload->'call'->>'messageId' = ANY($1) ORDER BY id",
  [messageIds],
);
const forwarded = (messageIds: string[]): Promise<PipelinesEvent[]> =>
  waitFor(`the fake has ${messageIds.join(", ")}`, () => (messageIds.every((m) => fake.event(m)) ? messageIds.map((m) => fake.event(m)!) : null));
const outboxIdle = () => waitFor("outbox idle", async () => (await db.query("SELECT 1 FROM outbox WHERE status = 'pending'")).length === 0, 15_000);

/** What the Data Pipelines versions of the mobile SDKs post to <apiHost>/batch: a metric and an app event. */
function sdkBatch(delivery: string, ids: { metric: string; track: string }) {
  const context = { app: { name: "Example", version: "1.2.0" }, device: { model: "iPhone15,2", type: "ios" }, library: { name: "customerio-ios", version: "3.4.0" } };
  return {
    batch: [
      {
        type: "track",
        event: "Report Delivery Event",
        anonymousId: "a6b1f3c2-7d4e-4e59-9f0a-2c8d1e6b5a40",
        properties: { deliveryId: delivery, metric: "opened", recipient: "fcm-token-abc123" },
        messageId: ids.metric,
        timestamp: "2026-11-14T09:30:00.000Z",
        context,
        integrations: {},
      },
      { type: "track", event: "Product Viewed", userId: "person-42", properties: { sku: "A-1" }, messageId: ids.track, timestamp: "2026-11-14T09:30:01.000Z", context },
    ],
    sentAt: "2026-11-14T09:30:02.000Z",
  };
}

describe("Data Pipelines relay", () => {
  it("takes an SDK's batch of a Report Delivery Event and a track: 200, the metric in the delivery row at once, both forwarded with their messageIds and write key", async () => {
    const delivery = deliveryId();
    assert.equal((await svc.webhook(messageEvent({ objectType: "push", metric: "sent", deliveryId: delivery }))).status, 200);
    const ids = { metric: uid(), track: uid() };
    const body = sdkBatch(delivery, ids);
    const res = await post("/v1/batch", body);
    assert.deepEqual([res.status, res.json], [200, {}]);

    // Answered only after the commit: the delivery row already shows the open.
    const [row] = await db.query("SELECT status, opened_at, relay_opens, opens_human FROM deliveries WHERE delivery_id = $1", [delivery]);
    assert.deepEqual({ ...row, opened_at: (row?.["opened_at"] as Date).toISOString() }, { status: "opened", opened_at: "2026-11-14T09:30:00.000Z", relay_opens: 1, opens_human: 1 });
    const events = await db.query("SELECT source, metric, payload FROM delivery_events WHERE delivery_id = $1 AND source = 'relay'", [delivery]);
    assert.equal(events.length, 1);
    assert.equal(events[0]!["metric"], "opened");
    assert.equal((events[0]!["payload"] as { messageId: string }).messageId, ids.metric);

    const [metric, track] = await forwarded([ids.metric, ids.track]);
    assert.equal(metric!.writeKey, WRITE_KEY);
    assert.equal(track!.writeKey, WRITE_KEY);
    // Unchanged: every field the SDK set arrives as it was sent (the batch's sentAt folded into each call).
    const { sentAt, batch } = body;
    assert.deepEqual(metric!.call, { ...batch[0], sentAt });
    assert.deepEqual(track!.call, { ...batch[1], sentAt });
    const strict = fake.log.filter((r) => r.status === 200 && r.path === "/v1/batch").every((r) => r.strict);
    assert.ok(strict, "forwarded in strict mode, so a refused call is not a silent 200");
    await waitFor("both rows delivered", async () => (await cdpRows([ids.metric, ids.track])).every((r) => r.status === "delivered"));
  });

  it("counts the webhook echo of a relayed metric once", async () => {
    const delivery = deliveryId();
    assert.equal((await post("/v1/batch", sdkBatch(delivery, { metric: uid(), track: uid() }))).status, 200);
    const echo = messageEvent({ objectType: "push", metric: "opened", deliveryId: delivery });
    assert.equal((await svc.webhook(echo)).status, 200);
    const [row] = await db.query("SELECT relay_opens, webhook_opens_human, opens_human, event_count FROM deliveries WHERE delivery_id = $1", [delivery]);
    assert.deepEqual(row, { relay_opens: 1, webhook_opens_human: 1, opens_human: 1, event_count: 2 });
  });

  it("stores and forwards a resent call (the same messageId) once", async () => {
    const delivery = deliveryId();
    const ids = { metric: uid(), track: uid() };
    for (let i = 0; i < 3; i++) assert.equal((await post("/v1/batch", sdkBatch(delivery, ids))).status, 200);
    await forwarded([ids.metric, ids.track]);
    await outboxIdle();
    await new Promise((r) => setTimeout(r, 1200)); // more cron ticks: a second send would show now
    assert.equal((await cdpRows([ids.metric, ids.track])).length, 2);
    assert.equal((await db.query("SELECT 1 FROM delivery_events WHERE delivery_id = $1", [delivery])).length, 1);
    assert.deepEqual([fake.event(ids.metric)!.copies.length, fake.event(ids.track)!.copies.length], [1, 1]);
  });

  it("takes each single-call endpoint, sets the call's type from it, and gives a call without messageId a stable one", async () => {
    const person = `p-${uid()}`;
    const calls: Array<[string, Record<string, unknown>]> = [
      ["identify", { userId: person, traits: { email: "p@example.com", plan: "pro" } }],
      ["track", { userId: person, event: "Signed Up", properties: { via: "ios" } }],
      ["page", { anonymousId: "anon-1", name: "Pricing", properties: { path: "/pricing" } }],
      ["screen", { userId: person, name: "Settings" }],
      ["group", { userId: person, groupId: "acme", traits: { name: "Acme" } }],
      ["alias", { userId: person, previousId: "anon-1" }],
    ];
    for (const [endpoint, body] of calls) {
      const withTime = { ...body, timestamp: "2026-11-14T10:00:00.000Z" };
      assert.equal((await post(`/v1/${endpoint}`, withTime)).status, 200, endpoint);
      assert.equal((await post(`/v1/${endpoint}`, withTime)).status, 200, `${endpoint} again`);
    }
    const rows = await db.query<{ call: Record<string, unknown> }>("SELECT payload->'call' AS call FROM outbox WHERE kind = 'cdp_call' AND payload->'call'->>'timestamp' = '2026-11-14T10:00:00.000Z' ORDER BY id");
    assert.deepEqual(rows.map((r) => r.call["type"]), calls.map(([e]) => e), "one row per call: the repeat got the same messageId");
    for (const r of rows) assert.match(String(r.call["messageId"]), /^cio-companion-[0-9a-f]{32}$/);
    const events = await forwarded(rows.map((r) => String(r.call["messageId"])));
    assert.deepEqual(events.map((e) => e.call["type"]), calls.map(([e]) => e));
    assert.deepEqual(events[0]!.call["traits"], { email: "p@example.com", plan: "pro" });
  });

  it("dates a call without timestamp on arrival, and forwards it so", async () => {
    const messageId = uid();
    const before = Date.now();
    assert.equal((await post("/v1/track", { userId: "p-1", event: "Opened App", messageId })).status, 200);
    const [event] = await forwarded([messageId]);
    const at = Date.parse(String(event!.call["timestamp"]));
    assert.ok(at >= before - 1000 && at <= Date.now(), `timestamp ${String(event!.call["timestamp"])} is the arrival time`);
  });

  it("refuses an invalid request with a 400 naming each problem, storing nothing", async () => {
    const rowsBefore = (await db.query("SELECT count(*)::int AS n FROM outbox"))[0]!["n"];
    const bad = await post("/v1/batch", {
      batch: [
        { type: "track", event: "Fine", userId: "p", messageId: uid() },
        { type: "track", userId: "p" },
        { type: "identify", traits: { a: 1 } },
        { type: "track", event: "Report Delivery Event", userId: "p", properties: { metric: "opened" } },
        { type: "track", event: "X", userId: "p", timestamp: "yesterday" },
        { type: "explode", userId: "p" },
        "not a call",
      ],
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(errorsOf(bad.json), [
      "batch[1].event is required for track (a string)",
      "batch[2].userId or anonymousId is required",
      "batch[3].properties.deliveryId is required for a Report Delivery Event (a string)",
      "batch[4].timestamp must be an ISO 8601 date-time string",
      "batch[5].type must be one of identify, track, page, screen, group, alias",
      "batch[6] must be an object",
    ]);
    const cases: Array<[string, unknown, number, RegExp]> = [
      ["/v1/batch", { batch: [] }, 400, /batch is required: a non-empty array/],
      ["/v1/batch", "{oops", 400, /not valid JSON/],
      ["/v1/batch", [1], 400, /body must be a JSON object/],
      ["/v1/track", { type: "identify", userId: "p" }, 400, /this is \/v1\/track: send it to \/v1\/identify or \/v1\/batch/],
      ["/v1/alias", { userId: "p" }, 400, /previousId is required for alias/],
      ["/v1/group", { userId: "p" }, 400, /groupId is required for group/],
      ["/v1/batch", { batch: [{ type: "track", userId: "p", event: "Big", properties: { blob: "x".repeat(33_000) } }] }, 400, /batch\[0\] is \d+ bytes; Customer.io takes at most 32768 bytes a call/],
      ["/v1/track", { userId: "p", event: "Huge", properties: { blob: "x".repeat(40_000) } }, 413, /at most 32 KB a call/],
      ["/v1/batch", { batch: Array.from({ length: 20 }, () => ({ type: "track", userId: "p", event: "E", properties: { blob: "x".repeat(30_000) } })) }, 413, /500 KB a batch request/],
    ];
    for (const [path, body, status, message] of cases) {
      const res = await post(path, body);
      assert.equal(res.status, status, `${path} ${JSON.stringify(body).slice(0, 80)}`);
      assert.match(errorsOf(res.json).join("; "), message);
    }
    assert.equal((await db.query("SELECT count(*)::int AS n FROM outbox"))[0]!["n"], rowsBefore);
  });

  it("asks for the write key as Basic auth, and takes one from the body as Segment-compatible APIs do (never storing it)", async () => {
    const none = await post("/v1/track", { userId: "p", event: "E" }, null);
    assert.equal(none.status, 401);
    assert.match(errorsOf(none.json)[0]!, /write key is required: HTTP Basic auth with the source's write key as user name and a blank password/);
    const messageId = uid();
    assert.equal((await post("/v1/track", { userId: "p", event: "E", messageId, writeKey: OTHER_KEY }, null)).status, 200);
    const [event] = await forwarded([messageId]);
    assert.equal(event!.writeKey, OTHER_KEY);
    assert.equal(event!.call["writeKey"], undefined);
  });

  it("forwards each write key's calls with that key, in batches", async () => {
    const mine = [uid(), uid(), uid()];
    const theirs = [uid(), uid()];
    const batch = (ids: string[]) => ({ batch: ids.map((messageId) => ({ type: "track", userId: "p", event: "E", messageId })) });
    await outboxIdle();
    const requestsBefore = fake.accepted.length;
    const [a, b] = await Promise.all([post("/v1/batch", batch(mine)), post("/v1/batch", batch(theirs), OTHER_KEY)]);
    assert.deepEqual([a.status, b.status], [200, 200]);
    const events = await forwarded([...mine, ...theirs]);
    assert.deepEqual(events.map((e) => e.writeKey), [WRITE_KEY, WRITE_KEY, WRITE_KEY, OTHER_KEY, OTHER_KEY]);
    assert.ok(fake.accepted.length - requestsBefore <= 4, `${fake.accepted.length - requestsBefore} requests for 5 calls of two keys`);
  });

  it("retries what fails, and dead-letters a call Customer.io refuses (a write key it does not know)", async () => {
    await outboxIdle();
    fake.fail({ status: 503 }, 2);
    const retried = uid();
    assert.equal((await post("/v1/track", { userId: "p", event: "E", messageId: retried })).status, 200);
    await forwarded([retried]);
    const [row] = await cdpRows([retried]);
    assert.equal(row!.status, "delivered");

    const unknownKey = "wk-not-at-customerio";
    const refused = uid();
    assert.equal((await post("/v1/track", { userId: "p", event: "E", messageId: refused }, unknownKey)).status, 200);
    const [dead] = await waitFor("the call is a dead letter", async () => {
      const rows = await cdpRows([refused]);
      return rows[0]?.status === "dead" ? rows : null;
    });
    assert.equal(dead!.last_status, 401);
    assert.equal(fake.event(refused), undefined);
  });

  it("sends each call of a refused batch alone, so only a bad call becomes a dead letter", async () => {
    await outboxIdle();
    const ids = [uid(), uid(), uid()];
    fake.fail({ status: 400, body: { meta: { errors: ["batch refused"] } } }, 1);
    assert.equal((await post("/v1/batch", { batch: ids.map((messageId) => ({ type: "track", userId: "p", event: "E", messageId })) })).status, 200);
    await forwarded(ids);
    const rows = await waitFor("all delivered", async () => {
      const r = await cdpRows(ids);
      return r.every((x) => x.status === "delivered") ? r : null;
    });
    assert.equal(rows.length, 3);
    const alone = fake.accepted.filter((r) => (r.body as { batch: Array<{ messageId: string }> }).batch.some((c) => ids.includes(c.messageId)));
    assert.deepEqual(alone.map((r) => (r.body as { batch: unknown[] }).batch.length), [1, 1, 1], "after the 400, each call went alone");
  });

  it("never shows or logs a write key: outbox rows name it by reference", async () => {
    await outboxIdle();
    const rows = await list(db.pool, "delivered", 10_000);
    const cdp = rows.filter((r) => r.kind === "cdp_call");
    assert.ok(cdp.length > 0);
    const listed = JSON.stringify(rows);
    for (const key of [WRITE_KEY, OTHER_KEY, Buffer.from(`${WRITE_KEY}:`).toString("base64")]) {
      assert.ok(!listed.includes(key), "the outbox listing holds no write key");
      assert.ok(!logged.includes(key), "no log line holds a write key");
    }
    assert.match(String((cdp[0]!.payload as { source: string }).source), /^wk_[0-9a-f]{16}$/);
    const events = await db.query("SELECT payload::text AS p FROM delivery_events WHERE source = 'relay'");
    assert.ok(events.every((e) => !String(e["p"]).includes(WRITE_KEY)));
    assert.ok(logged.includes('"path":"/v1/batch"'), "the log was captured");
  });
});

describe("PIPELINES_WRITE_KEYS", () => {
  it("accepts only the listed write keys", async () => {
    const own = await createTestDatabase();
    const local = await startTestService(own.url, { ...ENV, CIO_CDP_URL: fake.apiUrl, PIPELINES_WRITE_KEYS: `${OTHER_KEY}, another` });
    try {
      const call = { userId: "p", event: "E" };
      const ok = await local.post("/v1/track", call, basic(OTHER_KEY));
      assert.equal(ok.status, 200);
      const refused = await local.post("/v1/track", call, basic(WRITE_KEY));
      assert.equal(refused.status, 401);
      assert.match(errorsOf(refused.json)[0]!, /not accepted here \(PIPELINES_WRITE_KEYS\)/);
      assert.equal((await own.query("SELECT count(*)::int AS n FROM outbox"))[0]!["n"], 1);
    } finally {
      await local.stop();
      await own.drop();
    }
  });
});

// The Customer.io-compatible relay: each accepted metric is stored, applied, queued and delivered to
// the (fake) Track API exactly once with the right body; failures delay but lose nothing; permanent
// errors dead-letter with their reason; the rate limit holds; a relayed metric's echo counts once.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, beforeEach, describe, it } from "node:test";
import { promisify } from "node:util";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { runWithOfficialClient } from "../helpers/official-clients.js";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startInstance } from "../helpers/process.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

let db: TestDatabase;
let fake: FakeCustomerIo;
let svc: TestService;

const REPORTER_ENV = {
  REPORTER_SCHEDULE: "* * * * * *",
  REPORTER_BACKOFF_BASE_MS: "50",
  REPORTER_BACKOFF_MAX_MS: "200",
  CIO_TIMEOUT_MS: "300",
};

before(async () => {
  db = await createTestDatabase();
  fake = await FakeCustomerIo.start({ siteId: "site", apiKey: "key" });
  svc = await startTestService(db.url, { ...REPORTER_ENV, CIO_TRACK_URL: fake.url });
});
after(async () => {
  await svc.stop();
  await fake.close();
  await db.drop();
});
beforeEach(() => fake.clearFaults());

const outboxOf = async (id: string) => db.query("SELECT * FROM outbox WHERE delivery_id = $1 ORDER BY id", [id]);
const delivered = (id: string) => waitFor(`outbox rows of ${id} delivered`, async () => {
  const rows = await outboxOf(id);
  return rows.length > 0 && rows.every((r) => r["status"] === "delivered") ? rows : null;
});
/** Faults are matched by path: let earlier tests' rows finish first, so none of them takes a fault meant here. */
const outboxIdle = () => waitFor("outbox idle", async () => (await db.query("SELECT 1 FROM outbox WHERE status = 'pending'")).length === 0, 15_000);
const sentFor = (id: string) => fake.accepted.filter((r) => (r.body as { delivery_id?: string; batch?: Array<{ identifiers: { id: string } }> } | undefined)?.delivery_id === id
  || (r.body as { batch?: Array<{ identifiers: { id: string } }> } | undefined)?.batch?.some((i) => i.identifiers.id === id));

describe("relay API", () => {
  it("stores, applies, queues and delivers a metric once, with the original timestamp", async () => {
    const id = deliveryId();
    const body = { delivery_id: id, metric: "clicked", timestamp: 1_700_000_000, href: "https://example.com/a", recipient: "+15551234567" };
    const res = await svc.post("/api/v1/metrics", body);
    assert.deepEqual([res.status, res.json], [200, {}]);

    const [event] = await db.query("SELECT * FROM delivery_events WHERE delivery_id = $1", [id]);
    assert.equal(event?.["source"], "relay");
    assert.equal(event?.["href"], "https://example.com/a");
    assert.deepEqual(event?.["payload"], body);
    const [row] = await db.query("SELECT status, clicked_at, clicks_human, relay_clicks FROM deliveries WHERE delivery_id = $1", [id]);
    assert.deepEqual({ ...row, clicked_at: (row?.["clicked_at"] as Date).toISOString() }, { status: "clicked", clicked_at: "2023-11-14T22:13:20.000Z", clicks_human: 1, relay_clicks: 1 });

    const [item] = await delivered(id);
    assert.equal(item?.["event_id"], event?.["event_id"]);
    const sent = sentFor(id);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.path, "/api/v1/metrics");
    assert.deepEqual(sent[0]!.body, body);
  });

  it("answers a retried metric (same body and timestamp) with 200, storing and sending it once", async () => {
    const id = deliveryId();
    const body = { delivery_id: id, metric: "delivered", timestamp: 1_700_000_100 };
    for (let i = 0; i < 3; i++) assert.equal((await svc.post("/api/v1/metrics", body)).status, 200);
    await delivered(id);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await db.query("SELECT 1 FROM delivery_events WHERE delivery_id = $1", [id])).length, 1);
    assert.equal(sentFor(id).length, 1);
  });

  it("validates like Customer.io: required fields, known metrics, the delivery's channel", async () => {
    const smsDelivery = deliveryId();
    assert.equal((await svc.webhook(messageEvent({ objectType: "sms", metric: "sent", deliveryId: smsDelivery }))).status, 200);
    const cases: Array<[string, unknown, RegExp]> = [
      ["/api/v1/metrics", { metric: "opened" }, /delivery_id is required/],
      ["/api/v1/metrics", { delivery_id: "x", metric: "exploded" }, /metric must be one of/],
      ["/api/v1/metrics", { delivery_id: "x", metric: "opened", timestamp: "yesterday" }, /timestamp must be/],
      ["/api/v1/metrics", { delivery_id: smsDelivery, metric: "converted" }, /not reported for sms deliveries/],
      ["/push/events", { delivery_id: "x", event: "clicked", device_id: "t" }, /event must be one of opened, converted, delivered/],
      ["/api/v1/push/events", { delivery_id: "x", event: "opened" }, /device_id is required/],
      ["/api/v1/metrics", [1, 2], /must be a JSON object/],
    ];
    for (const [path, body, message] of cases) {
      const res = await svc.post(path, body);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
      const errors = (res.json["meta"] as { errors: string[] }).errors;
      assert.match(errors.join("; "), message);
    }
    const notJson = await svc.post("/api/v1/metrics", "{oops");
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json["error"], "invalid_json");
    const form = await svc.post("/api/v1/metrics", "delivery_id=x", { "content-type": "application/x-www-form-urlencoded" });
    assert.equal(form.status, 415);
  });

  it("lets the route decide the kind of call: a body mixing a push event and a metric is a 400 that changes no delivery", async () => {
    const id = deliveryId();
    assert.equal((await svc.webhook(messageEvent({ objectType: "push", metric: "delivered", deliveryId: id }))).status, 200);
    const before = await db.query("SELECT * FROM deliveries WHERE delivery_id = $1", [id]);
    const smuggled = await svc.post("/push/events", { delivery_id: id, event: "opened", device_id: "tok", metric: "unsubscribed", timestamp: 1_700_000_000 });
    assert.equal(smuggled.status, 400);
    assert.match((smuggled.json["meta"] as { errors: string[] }).errors[0]!, /metric is not a field of a push-event endpoint: a body mixes a metric and a push event/);
    const other = await svc.post("/api/v1/metrics", { delivery_id: id, metric: "opened", event: "opened", device_id: "tok" });
    assert.equal(other.status, 400);
    assert.match((other.json["meta"] as { errors: string[] }).errors[0]!, /event, device_id are not a field of \/api\/v1\/metrics/);
    assert.deepEqual(await db.query("SELECT * FROM deliveries WHERE delivery_id = $1", [id]), before);
    assert.deepEqual(await db.query("SELECT 1 FROM delivery_events WHERE delivery_id = $1 AND source = 'relay'", [id]), []);
  });

  it("sends push metrics as /api/v1/metrics when there are no Track credentials", async () => {
    const id = deliveryId();
    for (const path of ["/push/events", "/api/v1/push/events"]) {
      const res = await svc.post(path, { delivery_id: id, event: path === "/push/events" ? "delivered" : "opened", device_id: "tok-1", timestamp: 1_700_000_000 });
      assert.equal(res.status, 200);
    }
    await delivered(id);
    const bodies = sentFor(id).map((r) => [r.path, r.body]);
    assert.deepEqual(bodies.sort(), [
      ["/api/v1/metrics", { delivery_id: id, metric: "delivered", timestamp: 1_700_000_000 }],
      ["/api/v1/metrics", { delivery_id: id, metric: "opened", timestamp: 1_700_000_000 }],
    ]);
    const [row] = await db.query("SELECT channel, opened_at IS NOT NULL AS opened, opens_human FROM deliveries WHERE delivery_id = $1", [id]);
    assert.deepEqual(row, { channel: "push", opened: true, opens_human: 1 });
  });

  it("counts a relayed open and its webhook echo once, and a further open again", async () => {
    const id = deliveryId();
    assert.equal((await svc.post("/api/v1/push/events", { delivery_id: id, event: "opened", device_id: "tok", timestamp: 1_700_000_000 })).status, 200);
    const echo = messageEvent({ objectType: "push", metric: "opened", deliveryId: id, timestamp: 1_700_000_001 });
    assert.equal((await svc.webhook(echo)).status, 200);
    const row = async () => (await db.query("SELECT opens_human, event_count, opened_at FROM deliveries WHERE delivery_id = $1", [id]))[0]!;
    assert.equal((await row())["opens_human"], 1, "the echo is not a second open");
    assert.equal(((await row())["opened_at"] as Date).toISOString(), "2023-11-14T22:13:20.000Z");
    assert.equal((await svc.webhook(messageEvent({ objectType: "push", metric: "opened", deliveryId: id, timestamp: 1_700_000_500 }))).status, 200);
    assert.equal((await row())["opens_human"], 2, "a later real open counts");
    assert.equal((await row())["event_count"], 3);
  });

  it("keeps retrying through 500s, 429s with Retry-After, resets and timeouts, and delivers once", async () => {
    await outboxIdle();
    const id = deliveryId();
    fake.fail({ status: 500 }, 1, "/api/v1/metrics");
    fake.fail({ status: 429, retryAfter: 1 }, 1, "/api/v1/metrics");
    fake.fail({ reset: true }, 1, "/api/v1/metrics");
    fake.fail({ hang: true }, 1, "/api/v1/metrics");
    fake.fail({ status: 503 }, 1, "/api/v1/metrics");
    assert.equal((await svc.post("/api/v1/metrics", { delivery_id: id, metric: "opened", timestamp: 1_700_000_000 })).status, 200);
    const [item] = await waitFor("delivered after the faults", async () => {
      const rows = await outboxOf(id);
      return rows[0]?.["status"] === "delivered" ? rows : null;
    }, 20_000);
    assert.equal(item?.["attempts"], 6);
    assert.equal(sentFor(id).length, 1, "accepted once");
  });

  it("dead-letters permanent failures with the status and answer, and `npm run outbox` retries them", async () => {
    await outboxIdle();
    const id = deliveryId();
    fake.fail({ status: 400, body: { meta: { errors: ["delivery not found"] } } }, 1, "/api/v1/metrics");
    assert.equal((await svc.post("/api/v1/metrics", { delivery_id: id, metric: "bounced", reason: "550", timestamp: 1_700_000_000 })).status, 200);
    const [dead] = await waitFor("dead letter", async () => {
      const rows = await outboxOf(id);
      return rows[0]?.["status"] === "dead" ? rows : null;
    });
    assert.equal(dead?.["last_status"], 400);
    assert.match(String(dead?.["last_error"]), /delivery not found/);
    assert.equal(dead?.["attempts"], 1);

    const run = (...args: string[]) => promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/outbox.ts", ...args], { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url } });
    const listed = await run("list");
    assert.match(listed.stdout, new RegExp(`${dead?.["id"]}\\s+metric\\s+${id}`));
    assert.match(listed.stdout, /400/);
    const retried = await run("retry", "--id", String(dead?.["id"]));
    assert.match(retried.stdout, /1 dead letter\(s\) queued again/);
    await delivered(id);
    assert.equal(sentFor(id).length, 1);
  });

  it("dead-letters a row when attempts run out", async () => {
    const own = await createTestDatabase(); // no other sender may claim this row
    const local = await startTestService(own.url, { ...REPORTER_ENV, CIO_TRACK_URL: fake.url, REPORTER_MAX_ATTEMPTS: "3" });
    try {
      const id = deliveryId();
      fake.fail({ status: 502 }, 100, "/api/v1/metrics");
      assert.equal((await local.post("/api/v1/metrics", { delivery_id: id, metric: "opened", timestamp: 1_700_000_000 })).status, 200);
      const [dead] = await waitFor("dead after 3 attempts", async () => {
        const rows = await own.query("SELECT * FROM outbox WHERE delivery_id = $1", [id]);
        return rows[0]?.["status"] === "dead" ? rows : null;
      }, 15_000);
      assert.equal(dead?.["attempts"], 3);
      assert.equal(dead?.["last_status"], 502);
    } finally {
      fake.clearFaults();
      await local.stop();
      await own.drop();
    }
  });

  it("never records a call Customer.io accepted as a failure when only our own write fails", async () => {
    const own = await createTestDatabase();
    const slow = await FakeCustomerIo.start({ latencyMs: 300 });
    const local = await startTestService(own.url, { ...REPORTER_ENV, CIO_TRACK_URL: slow.url, CIO_TIMEOUT_MS: "3000", DB_STATEMENT_TIMEOUT_MS: "300", REPORTER_LEASE_SECONDS: "5", LOG_LEVEL: process.env["DEBUG_TEST"] ? "debug" : "silent" });
    const locker = await own.pool.connect();
    try {
      const id = deliveryId();
      assert.equal((await local.post("/api/v1/metrics", { delivery_id: id, metric: "opened", timestamp: 1_700_000_000 })).status, 200);
      // While Customer.io is answering, block writes to the outbox long enough for "delivered" to time out.
      await waitFor("request received", () => slow.log.length > 0, 5000, 5);
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE outbox IN SHARE MODE");
      await new Promise((r) => setTimeout(r, 700));
      await locker.query("ROLLBACK");
      await waitFor("answered", () => slow.accepted.length === 1);
      await new Promise((r) => setTimeout(r, 300));
      const [row] = await own.query("SELECT status, last_error, locked_until > now() AS leased FROM outbox WHERE delivery_id = $1", [id]);
      assert.deepEqual(row, { status: "pending", last_error: null, leased: true }, "left leased, not marked as a failed call");
      // When the lease runs out it is sent again: the at-least-once window, never a loss.
      await waitFor("delivered after the lease", async () => (await own.query("SELECT 1 FROM outbox WHERE delivery_id = $1 AND status = 'delivered'", [id])).length === 1, 15_000);
    } finally {
      locker.release();
      await local.stop();
      await slow.close();
      await own.drop();
    }
  });

  it("holds the rate limit toward Customer.io across instances", async () => {
    // Two real processes: the fake in this process then sees arrivals on an event loop of its own, as
    // Customer.io would, not delayed by the senders' work.
    const own = await createTestDatabase();
    const env = { CIO_WEBHOOK_SIGNING_KEYS: "k", CIO_TRACK_URL: fake.url, REPORTER_RATE_LIMIT: "20", REPORTER_SCHEDULE: "* * * * * *" };
    const [one, two] = [await startInstance(own.url, env), await startInstance(own.url, env)];
    try {
      const before = fake.accepted.length;
      const ids = Array.from({ length: 40 }, () => deliveryId());
      await Promise.all(ids.map(async (id, i) => {
        const res = await fetch(`${(i % 2 ? one : two).url}/api/v1/metrics`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ delivery_id: id, metric: "delivered", timestamp: 1_700_000_000 }) });
        assert.equal(res.status, 200);
      }));
      await waitFor("all sent", () => fake.accepted.length >= before + 40, 15_000);
      const times = fake.accepted.slice(before).map((r) => r.at).sort((a, b) => a - b);
      const maxInAnySecond = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
      assert.ok(maxInAnySecond <= 21, `at most 20 (+1: a start may come up to one slot late) in any second across both instances, saw ${maxInAnySecond}; gaps ${times.slice(1).map((t, i) => t - times[i]!).join(" ")}`);
      assert.ok(times[times.length - 1]! - times[0]! >= 1800, "40 requests at 20/s take about 2 s");
      const sentIds = fake.accepted.slice(before).map((r) => (r.body as { delivery_id: string }).delivery_id);
      assert.equal(new Set(sentIds).size, 40, "each sent once, by one of the two");
    } finally {
      for (const p of [one, two]) p.proc.child.kill("SIGTERM");
      await Promise.all([one.proc.exited, two.proc.exited]);
      await own.drop();
    }
  });

  it("requires Basic auth when RELAY_CREDENTIALS is set", async () => {
    const local = await startTestService(db.url, { ...REPORTER_ENV, CIO_TRACK_URL: fake.url, RELAY_CREDENTIALS: "app:s3cret,other:pw" });
    try {
      const body = { delivery_id: deliveryId(), metric: "opened" };
      const basic = (u: string) => ({ authorization: `Basic ${Buffer.from(u).toString("base64")}` });
      assert.equal((await local.post("/api/v1/metrics", body)).status, 401);
      assert.equal((await local.post("/api/v1/metrics", body, basic("app:wrong"))).status, 401);
      assert.equal((await local.post("/api/v1/metrics", body, basic("app:s3cret"))).status, 200);
      assert.equal((await local.post("/push/events", { delivery_id: body.delivery_id, event: "opened", device_id: "t" }, basic("other:pw"))).status, 200);
    } finally {
      await local.stop();
    }
  });
});

describe("push modes", () => {
  for (const [mode, path] of [["push_events", "/push/events"], ["batch", "/api/v2/batch"]] as const) {
    it(`sends push metrics through ${path} in ${mode} mode`, async () => {
      const own = await createTestDatabase(); // only this instance's sender may take these rows
      const local = await startTestService(own.url, { ...REPORTER_ENV, CIO_TRACK_URL: fake.url, CIO_SITE_ID: "site", CIO_API_KEY: "key", CIO_REGION: "us", REPORTER_PUSH_MODE: mode });
      try {
        const ids = [deliveryId(), deliveryId(), deliveryId()];
        for (const id of ids) assert.equal((await local.post("/push/events", { delivery_id: id, event: "converted", device_id: `tok-${id}`, timestamp: 1_700_000_000 })).status, 200);
        for (const id of ids) {
          await waitFor(`${id} delivered`, async () => (await own.query("SELECT 1 FROM outbox WHERE delivery_id = $1 AND status = 'delivered'", [id])).length === 1);
        }
        const sent = fake.accepted.filter((r) => r.path === path && ids.some((id) => JSON.stringify(r.body).includes(id)));
        if (mode === "batch") {
          const items = sent.flatMap((r) => (r.body as { batch: unknown[] }).batch);
          assert.equal(items.length, 3);
          assert.deepEqual(items[0], { type: "delivery", action: "event", identifiers: { id: ids[0] }, name: "converted", timestamp: 1_700_000_000, attributes: { device_token: `tok-${ids[0]}` } });
          assert.deepEqual(sent[0]!.auth, { user: "site", password: "key" });
        } else {
          assert.equal(sent.length, 3);
          assert.deepEqual(sent[0]!.body, { delivery_id: ids[0], event: "converted", device_id: `tok-${ids[0]}`, timestamp: 1_700_000_000 });
        }
      } finally {
        await local.stop();
        await own.drop();
      }
    });
  }

  it("maps a 207 batch's item errors back to the rows that failed", async () => {
    const own = await createTestDatabase();
    const local = await startTestService(own.url, { ...REPORTER_ENV, CIO_TRACK_URL: fake.url, CIO_SITE_ID: "site", CIO_API_KEY: "key", CIO_REGION: "us", REPORTER_PUSH_MODE: "batch", REPORTER_ENABLED: "false" });
    try {
      const ids = [deliveryId(), deliveryId(), deliveryId()];
      for (const id of ids) assert.equal((await local.post("/push/events", { delivery_id: id, event: "opened", device_id: "tok", timestamp: 1_700_000_000 })).status, 200);
      // Make the middle item invalid as Customer.io would see it, then send the three as one batch.
      await own.query("UPDATE outbox SET payload = payload || '{\"event\":\"exploded\"}' WHERE delivery_id = $1", [ids[1]]);
      const sender = local.service.sender;
      const result = await sender.drain();
      assert.deepEqual(result, { delivered: 2, retried: 0, dead: 1 });
      const statuses = await Promise.all(ids.map(async (id) => (await own.query("SELECT * FROM outbox WHERE delivery_id = $1", [id]))[0]!));
      assert.deepEqual(statuses.map((r) => r["status"]), ["delivered", "dead", "delivered"]);
      assert.equal(statuses[1]!["last_status"], 207);
      assert.match(String(statuses[1]!["last_error"]), /name must be opened/);
    } finally {
      await local.stop();
      await own.drop();
    }
  });
});

describe("the official customerio-node client", () => {
  it("reports metrics and push events through our relay, and the fake receives what it would have sent", async () => {
    const [metricId, pushId] = [deliveryId(), deliveryId()];
    const script = `
      const { TrackClient } = require(CLIENT);
      const cio = new TrackClient("site", "key", { url: process.argv[1] + "/api/v1" });
      (async () => {
        await cio.reportMetric({ delivery_id: process.argv[2], metric: "clicked", timestamp: 1700000000, href: "https://example.com/x" });
        await cio.trackPush({ delivery_id: process.argv[3], event: "opened", device_id: "device-9", timestamp: 1700000000 });
        console.log("ok");
      })().catch((e) => { console.error(e); process.exit(1); });`;
    assert.equal((await runWithOfficialClient("customerio-node", script, [svc.url, metricId, pushId])).trim(), "ok");
    await delivered(metricId);
    await delivered(pushId);
    assert.deepEqual(sentFor(metricId).map((r) => [r.path, r.body]), [["/api/v1/metrics", { delivery_id: metricId, metric: "clicked", timestamp: 1700000000, href: "https://example.com/x" }]]);
    assert.deepEqual(sentFor(pushId).map((r) => [r.path, r.body]), [["/api/v1/metrics", { delivery_id: pushId, metric: "opened", timestamp: 1700000000 }]]);
    const events = await db.query("SELECT source, metric FROM delivery_events WHERE delivery_id = ANY($1) ORDER BY metric", [[metricId, pushId]]);
    assert.deepEqual(events, [{ source: "relay", metric: "clicked" }, { source: "relay", metric: "opened" }]);
  });
});


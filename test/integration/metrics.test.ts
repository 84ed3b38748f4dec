// GET /metrics: scraped before and after known traffic, each counter moves by exactly what was done;
// the text is valid Prometheus exposition; the database-wide gauges agree between two instances on one
// database; the public listener serves metrics only with METRICS_CREDENTIALS, and never logs them.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { FakeCustomerIo } from "../../scripts/lib/fake-customerio.js";
import { customerEvent, deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { createLogger } from "../../src/core/logger.js";
import { COUNT_CAP } from "../../src/metrics/database-gauges.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { parsePrometheusText, sumOf, valueOf, type Family } from "../helpers/prometheus-text.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

type Scrape = Map<string, Family>;

async function scrape(baseUrl: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`, { headers });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

/** What moved between two scrapes, for one series or (with `sum`) every series matching the labels. */
const delta = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
const sumDelta = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}) => sumOf(after, name, labels) - sumOf(before, name, labels);

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

describe("/metrics on the admin listener", () => {
  let svc: TestService;
  let fake: FakeCustomerIo;
  before(async () => {
    fake = await FakeCustomerIo.start({ siteId: "site", apiKey: "key" });
    svc = await startTestService(db.url, {
      CIO_TRACK_URL: fake.url,
      REPORTER_SCHEDULE: "* * * * * *",
      REPORTER_BACKOFF_BASE_MS: "50",
      REPORTER_BACKOFF_MAX_MS: "100",
      CIO_TIMEOUT_MS: "1000",
      WEBHOOK_BODY_LIMIT: "4kb",
      WEBHOOK_TIMEOUT_MS: "300",
    });
  });
  after(async () => {
    await svc.stop();
    await fake.close();
  });

  it("is valid Prometheus text: every family under ciocompanion_, counters ending in _total, durations in seconds", async () => {
    const families = await scrape(svc.adminUrl);
    assert.ok(families.size > 40, `only ${families.size} families`);
    for (const f of families.values()) {
      assert.ok(f.name.startsWith("ciocompanion_"), `${f.name} has no prefix`);
      assert.ok(f.help && f.help.length > 0, `${f.name} has no HELP`);
      // prom-client's own nodejs_active_*_total are gauges; ours follow the convention.
      if (f.type === "counter") assert.ok(f.name.endsWith("_total"), `counter ${f.name} does not end in _total`);
      if (/(duration|latency|_lag|_age|_wait)(_|$)/.test(f.name) && !f.name.startsWith("ciocompanion_nodejs_")) assert.ok(f.name.endsWith("_seconds"), `${f.name} is not in seconds`);
    }
    for (const name of [
      "ciocompanion_webhook_requests_total", "ciocompanion_events_stored_total", "ciocompanion_ingest_batch_size", "ciocompanion_ingest_commit_duration_seconds",
      "ciocompanion_webhook_event_lag_seconds", "ciocompanion_webhook_last_received_timestamp_seconds", "ciocompanion_relay_requests_total",
      "ciocompanion_outbox_rows", "ciocompanion_outbox_rows_estimate", "ciocompanion_outbox_oldest_pending_age_seconds", "ciocompanion_outbox_attempts_total",
      "ciocompanion_customerio_requests_total", "ciocompanion_customerio_request_duration_seconds", "ciocompanion_customerio_rate_limit_wait_seconds",
      "ciocompanion_unsubscribes_total", "ciocompanion_db_pool_connections_in_use", "ciocompanion_db_pool_waiting_requests", "ciocompanion_reconcile_runs_total",
      "ciocompanion_webhooks_silent", "ciocompanion_process_start_time_seconds", "ciocompanion_nodejs_eventloop_lag_seconds", "ciocompanion_webhook_heartbeat_timestamp_seconds",
      "ciocompanion_projection_queue_rows", "ciocompanion_projection_queue_oldest_age_seconds",
    ]) {
      assert.ok(families.has(name), `${name} is not exposed`);
    }
    assert.equal(families.get("ciocompanion_ingest_commit_duration_seconds")?.type, "histogram");
    assert.equal(valueOf(families, "ciocompanion_db_pool_max_connections", { pool: "metrics" }), 1);
  });

  it("counts webhooks of each outcome exactly, with the events stored, their batches and their lag", async () => {
    const before = await scrape(svc.adminUrl);
    const old = Math.floor(Date.now() / 1000) - 600;
    const event = messageEvent({ objectType: "email", metric: "delivered", deliveryId: deliveryId(), timestamp: old });
    const answers: number[] = [];
    answers.push((await svc.webhook(event)).status); // stored
    answers.push((await svc.webhook(event)).status); // duplicate
    answers.push((await svc.webhook(customerEvent("cio_subscription_preferences_changed"))).status); // stored
    answers.push((await svc.webhook(messageEvent({ objectType: "sms", metric: "sent", deliveryId: deliveryId() }))).status); // stored
    answers.push((await svc.webhook(event, { key: "not-the-key" })).status); // bad signature
    answers.push((await svc.webhook("[1, 2]")).status); // bad body
    answers.push((await svc.webhook("{not json")).status); // bad body
    answers.push((await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId(), extra: { content: "x".repeat(5000) } }))).status); // too large
    // Unavailable: the events table is locked, so the commit cannot finish within WEBHOOK_TIMEOUT_MS.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE delivery_events IN ACCESS EXCLUSIVE MODE");
      answers.push((await svc.webhook(messageEvent({ objectType: "email", metric: "opened", deliveryId: deliveryId() }))).status);
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }
    assert.deepEqual(answers, [200, 200, 200, 200, 401, 400, 400, 413, 503]);
    await svc.service.store.drained(); // the locked write commits after the answer; its batch is counted then

    const after = await scrape(svc.adminUrl);
    const outcomes = { stored: 3, duplicate: 1, bad_signature: 1, bad_body: 2, too_large: 1, unavailable: 1, other: 0 };
    for (const [outcome, n] of Object.entries(outcomes)) assert.equal(delta(before, after, "ciocompanion_webhook_requests_total", { outcome }), n, outcome);
    // Stored: three answered 200 and the one answered 503 (it committed once the lock was gone: Customer.io's retry will be a duplicate).
    assert.equal(delta(before, after, "ciocompanion_events_stored_total", { source: "webhook", object_type: "email", metric: "delivered" }), 1);
    assert.equal(delta(before, after, "ciocompanion_events_stored_total", { source: "webhook", object_type: "customer", metric: "cio_subscription_preferences_changed" }), 1);
    assert.equal(delta(before, after, "ciocompanion_events_stored_total", { source: "webhook", object_type: "sms", metric: "sent" }), 1);
    assert.equal(delta(before, after, "ciocompanion_events_stored_total", { source: "webhook", object_type: "email", metric: "opened" }), 1);
    assert.equal(sumDelta(before, after, "ciocompanion_events_stored_total"), 4);
    // One write at a time, so one batch each: the five that reached the store (the duplicate included).
    assert.equal(delta(before, after, "ciocompanion_ingest_batch_size_count"), 5);
    assert.equal(delta(before, after, "ciocompanion_ingest_batch_size_sum"), 5);
    assert.equal(delta(before, after, "ciocompanion_ingest_commit_duration_seconds_count"), 5);
    assert.ok(delta(before, after, "ciocompanion_ingest_commit_duration_seconds_sum") >= 0.3, "the locked commit took at least the deadline");
    // Lag: observed for each webhook event stored while its request waited (not the one answered 503).
    assert.equal(delta(before, after, "ciocompanion_webhook_event_lag_seconds_count"), 3);
    assert.equal(delta(before, after, "ciocompanion_webhook_event_lag_seconds_bucket", { le: "300" }), 2, "two came at once");
    assert.equal(delta(before, after, "ciocompanion_webhook_event_lag_seconds_bucket", { le: "900" }), 3, "one came ten minutes late");
    const lagSum = delta(before, after, "ciocompanion_webhook_event_lag_seconds_sum");
    assert.ok(lagSum >= 600 && lagSum < 620, `lag sum ${lagSum}`);
    const last = valueOf(after, "ciocompanion_webhook_last_received_timestamp_seconds");
    assert.ok(Math.abs(last - Date.now() / 1000) < 30, `last webhook at ${last}`);
  });

  it("counts relay calls by endpoint and outcome, Customer.io's 500 then 200, a dead letter, and the rate limit's waits", async () => {
    await waitFor("outbox idle", async () => (await db.query("SELECT 1 FROM outbox WHERE status = 'pending'")).length === 0, 15_000);
    const before = await scrape(svc.adminUrl);
    const retried = deliveryId();
    const dead = deliveryId();
    fake.fail({ status: 500 }, 1, "/api/v1/metrics");
    assert.equal((await svc.post("/api/v1/metrics", { delivery_id: retried, metric: "delivered", timestamp: 1_700_000_000 })).status, 200);
    const outboxRow = (id: string) => db.query<{ status: string; attempts: number }>("SELECT status, attempts FROM outbox WHERE delivery_id = $1", [id]).then((r) => r[0]);
    await waitFor("the retried metric delivered", async () => (await outboxRow(retried))?.status === "delivered", 15_000);
    fake.fail({ status: 400, body: { meta: { errors: ["invalid delivery"] } } }, 1, "/api/v1/metrics");
    assert.equal((await svc.post("/push/events", { delivery_id: dead, event: "opened", device_id: "device-1", timestamp: 1_700_000_000 })).status, 200);
    await waitFor("the push metric dead-lettered", async () => (await outboxRow(dead))?.status === "dead", 15_000);
    assert.equal((await svc.post("/api/v1/metrics", { delivery_id: deliveryId(), metric: "no-such-metric" })).status, 400);
    assert.equal((await svc.post("/api/v1/metrics", "{broken")).status, 400);
    assert.equal((await svc.post("/api/v1/push/events", {}, { "content-type": "text/plain" })).status, 415);

    const after = await scrape(svc.adminUrl);
    assert.equal(delta(before, after, "ciocompanion_relay_requests_total", { endpoint: "/api/v1/metrics", outcome: "accepted" }), 1);
    assert.equal(delta(before, after, "ciocompanion_relay_requests_total", { endpoint: "/push/events", outcome: "accepted" }), 1);
    assert.equal(delta(before, after, "ciocompanion_relay_requests_total", { endpoint: "/api/v1/metrics", outcome: "invalid" }), 2);
    assert.equal(delta(before, after, "ciocompanion_relay_requests_total", { endpoint: "/api/v1/push/events", outcome: "unsupported_media_type" }), 1);
    assert.equal(sumDelta(before, after, "ciocompanion_relay_requests_total"), 5);
    assert.equal(sumDelta(before, after, "ciocompanion_events_stored_total", { source: "relay" }), 2);
    // Without Track credentials push metrics go to /api/v1/metrics too (REPORTER_PUSH_MODE=metrics).
    const track = { api: "track", endpoint: "POST /api/v1/metrics" };
    assert.equal(delta(before, after, "ciocompanion_customerio_requests_total", { ...track, status: "500" }), 1);
    assert.equal(delta(before, after, "ciocompanion_customerio_requests_total", { ...track, status: "200" }), 1);
    assert.equal(delta(before, after, "ciocompanion_customerio_requests_total", { ...track, status: "400" }), 1);
    assert.equal(delta(before, after, "ciocompanion_customerio_request_duration_seconds_count", track), 3);
    assert.equal(delta(before, after, "ciocompanion_customerio_rate_limit_wait_seconds_count", { limit: "customerio-track" }), 3);
    assert.equal(delta(before, after, "ciocompanion_outbox_attempts_total", { kind: "metric", outcome: "retry" }), 1);
    assert.equal(delta(before, after, "ciocompanion_outbox_attempts_total", { kind: "metric", outcome: "delivered" }), 1);
    assert.equal(delta(before, after, "ciocompanion_outbox_attempts_total", { kind: "push_event", outcome: "dead" }), 1);
    assert.equal(delta(before, after, "ciocompanion_outbox_rows", { status: "dead", kind: "push_event" }), 1);
    assert.equal(valueOf(after, "ciocompanion_outbox_rows", { status: "pending", kind: "metric" }), 0);
  });

  it("counts unsubscribes by method, and not a repeat of the current state", async () => {
    const before = await scrape(svc.adminUrl);
    const form = (id: string, body: string) => fetch(`${svc.url}/unsubscribe/${id}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const [page, oneClick, api] = [deliveryId(), deliveryId(), deliveryId()];
    assert.equal((await form(page, "unsubscribe=true")).status, 200);
    assert.equal((await form(oneClick, "List-Unsubscribe=One-Click")).status, 200);
    assert.equal((await form(oneClick, "List-Unsubscribe=One-Click")).status, 200); // already unsubscribed: no change
    assert.equal((await svc.post(`/unsubscribe/${api}`, { unsubscribe: true })).status, 200);
    assert.equal((await svc.post(`/unsubscribe/${api}`, { unsubscribe: false })).status, 200);
    const after = await scrape(svc.adminUrl);
    assert.equal(delta(before, after, "ciocompanion_unsubscribes_total", { method: "page", action: "unsubscribe" }), 1);
    assert.equal(delta(before, after, "ciocompanion_unsubscribes_total", { method: "one_click", action: "unsubscribe" }), 1);
    assert.equal(delta(before, after, "ciocompanion_unsubscribes_total", { method: "api", action: "unsubscribe" }), 1);
    assert.equal(delta(before, after, "ciocompanion_unsubscribes_total", { method: "api", action: "resubscribe" }), 1);
    assert.equal(sumDelta(before, after, "ciocompanion_unsubscribes_total"), 4);
    assert.equal(sumDelta(before, after, "ciocompanion_events_stored_total", { source: "unsubscribe_page" }), 4);
  });
});

describe("two instances on one database", () => {
  it("report the same database-wide gauges: outbox rows by status and kind, estimates, oldest pending, the projection queue, last webhook", async () => {
    const env = { REPORTER_ENABLED: "false" };
    const [a, b] = [await startTestService(db.url, env), await startTestService(db.url, env)];
    const locker = new pg.Client({ connectionString: db.url });
    try {
      // Pending rows ten minutes old, dead letters, and more pending push events than are counted
      // exactly; statistics flushed, then ANALYZE, from one session so the estimate sees them all.
      const session = new pg.Client({ connectionString: db.url });
      await session.connect();
      try {
        await session.query("DELETE FROM outbox");
        await session.query(
          `INSERT INTO outbox (event_id, kind, delivery_id, payload, status, created_at)
           SELECT NULL, kind, 'g' || g, '{}', status, now() - make_interval(mins => age)
           FROM (VALUES ('metric', 'pending', 3, 10), ('identify', 'pending', 2, 4), ('unsubscribe', 'dead', 5, 1), ('push_event', 'pending', $1::int + 5, 1)) AS v(kind, status, n, age),
                generate_series(1, n) AS g`,
          [COUNT_CAP],
        );
        await session.query("SELECT pg_stat_force_next_flush()");
        await session.query("ANALYZE outbox");
      } finally {
        await session.end();
      }
      // Three webhooks stored while deliveries are locked: they wait in the projection queue.
      await locker.connect();
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE deliveries IN SHARE MODE");
      for (const metric of ["sent", "delivered", "opened"]) assert.equal((await a.webhook(messageEvent({ objectType: "email", metric, deliveryId: deliveryId() }), { wait: false })).status, 200);
      await waitFor("the heartbeat written", async () => (await db.query("SELECT 1 FROM webhook_heartbeat WHERE last_received_at IS NOT NULL")).length === 1);

      const gauges = (s: Scrape, name: string) => JSON.stringify((s.get(name)?.samples ?? []).map((x) => [JSON.stringify(x.labels), x.value]).sort());
      const SHARED = ["ciocompanion_outbox_rows", "ciocompanion_outbox_rows_estimate", "ciocompanion_webhook_heartbeat_timestamp_seconds", "ciocompanion_projection_queue_rows"];
      // PostgreSQL's statistics (the estimate) may still move while they are flushed: scraped until two
      // scrapes made at once agree; the exact counts must agree every time.
      const [sa, sb] = await waitFor("two scrapes that agree", async () => {
        const pair = await Promise.all([scrape(a.adminUrl), scrape(b.adminUrl)]);
        assert.equal(gauges(pair[0], "ciocompanion_outbox_rows"), gauges(pair[1], "ciocompanion_outbox_rows"));
        return SHARED.every((name) => gauges(pair[0], name) === gauges(pair[1], name)) ? pair : null;
      }, 10_000, 200);
      assert.equal(valueOf(sa, "ciocompanion_outbox_rows", { status: "pending", kind: "metric" }), 3);
      assert.equal(valueOf(sa, "ciocompanion_outbox_rows", { status: "pending", kind: "identify" }), 2);
      assert.equal(valueOf(sa, "ciocompanion_outbox_rows", { status: "dead", kind: "unsubscribe" }), 5);
      assert.equal(valueOf(sa, "ciocompanion_outbox_rows", { status: "pending", kind: "push_event" }), COUNT_CAP, "counted up to the cap");
      const estimated = sumOf(sa, "ciocompanion_outbox_rows_estimate");
      assert.ok(Math.abs(estimated - (COUNT_CAP + 15)) <= 3, `the estimate sees every row: ${estimated}`);
      for (const s of [sa, sb]) {
        const age = valueOf(s, "ciocompanion_outbox_oldest_pending_age_seconds", { kind: "metric" });
        assert.ok(age >= 600 && age < 660, `oldest pending metric is ${age} s old`);
        assert.equal(valueOf(s, "ciocompanion_outbox_oldest_pending_age_seconds", { kind: "cdp_call" }), 0);
      }
      const ageA = valueOf(sa, "ciocompanion_outbox_oldest_pending_age_seconds", { kind: "identify" });
      const ageB = valueOf(sb, "ciocompanion_outbox_oldest_pending_age_seconds", { kind: "identify" });
      assert.ok(Math.abs(ageA - ageB) < 5, `ages ${ageA} and ${ageB}`);
      assert.ok(Math.abs(valueOf(sa, "ciocompanion_webhook_heartbeat_timestamp_seconds") - Date.now() / 1000) < 30);
      assert.equal(valueOf(sa, "ciocompanion_projection_queue_rows"), 3);
      for (const s of [sa, sb]) {
        const age = valueOf(s, "ciocompanion_projection_queue_oldest_age_seconds");
        assert.ok(age > 0 && age < 30, `the oldest queued event is ${age} s old`);
      }
      // The pools are each instance's own.
      assert.equal(valueOf(sa, "ciocompanion_db_pool_max_connections", { pool: "ingest" }), 10);
    } finally {
      await locker.query("ROLLBACK").catch(() => undefined);
      await locker.end();
      await a.stop();
      await b.stop();
    }
  });
});

describe("who may scrape", () => {
  it("the public listener answers 404 without METRICS_CREDENTIALS; the admin listener serves /metrics", async () => {
    const svc = await startTestService(db.url, { REPORTER_ENABLED: "false" });
    try {
      const res = await fetch(`${svc.url}/metrics`);
      assert.equal(res.status, 404);
      assert.match(((await res.json()) as { message: string }).message, /admin listener.*METRICS_CREDENTIALS/);
      assert.equal((await fetch(`${svc.adminUrl}/metrics`)).status, 200);
    } finally {
      await svc.stop();
    }
  });

  it("with METRICS_CREDENTIALS both listeners ask for Basic auth (401 without or with wrong ones), serve it with them, and never log them", async () => {
    const logged = new PassThrough();
    let output = "";
    logged.on("data", (d: Buffer) => (output += d.toString()));
    const svc = await startTestService(db.url, { REPORTER_ENABLED: "false", METRICS_CREDENTIALS: "prometheus:s3cret-scrape-pass" }, createLogger("debug", logged));
    const basic = (pair: string) => ({ authorization: `Basic ${Buffer.from(pair).toString("base64")}` });
    try {
      for (const base of [svc.url, svc.adminUrl]) {
        const none = await fetch(`${base}/metrics`);
        assert.equal(none.status, 401);
        assert.match(none.headers.get("www-authenticate") ?? "", /^Basic realm="metrics"/);
        assert.equal((await fetch(`${base}/metrics`, { headers: basic("prometheus:wrong") })).status, 401);
        assert.equal((await fetch(`${base}/metrics`, { headers: basic("other:s3cret-scrape-pass") })).status, 401);
        const families = await scrape(base, basic("prometheus:s3cret-scrape-pass"));
        assert.ok(families.has("ciocompanion_webhook_requests_total"));
      }
    } finally {
      await svc.stop();
    }
    assert.ok(output.includes('"path":"/metrics"'), "requests were logged");
    assert.ok(!output.includes("s3cret-scrape-pass"), "the password was logged");
    assert.ok(!output.includes(Buffer.from("prometheus:s3cret-scrape-pass").toString("base64")), "the credentials were logged");
  });

  it("METRICS_ENABLED=false: no /metrics on either listener", async () => {
    const svc = await startTestService(db.url, { REPORTER_ENABLED: "false", METRICS_ENABLED: "false" });
    try {
      assert.equal((await fetch(`${svc.url}/metrics`)).status, 404);
      assert.equal((await fetch(`${svc.adminUrl}/metrics`)).status, 404);
      assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: deliveryId() }))).status, 200);
    } finally {
      await svc.stop();
    }
  });
});
